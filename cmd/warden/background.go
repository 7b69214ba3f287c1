package main

import (
	"context"
	"sync"
)

// background is the work that belongs to a running warden besides its
// servers (the policy reloader, the demo's scripted agent): it runs until
// stop, which cancels its context and waits for every goroutine, so that
// none of it outlives the parts it uses.
type background struct {
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	done   bool
	wg     sync.WaitGroup
}

func newBackground() *background {
	ctx, cancel := context.WithCancel(context.Background())
	return &background{ctx: ctx, cancel: cancel}
}

// Go runs fn in a goroutine until its context ends; after stop it runs
// nothing.
func (b *background) Go(fn func(ctx context.Context)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return
	}
	b.wg.Go(func() { fn(b.ctx) })
}

// stop cancels the work and waits for it to return. It may be called more
// than once.
func (b *background) stop() {
	b.mu.Lock()
	b.done = true
	b.mu.Unlock()
	b.cancel()
	b.wg.Wait()
}
