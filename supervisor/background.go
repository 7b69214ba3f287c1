package supervisor

import (
	"context"
	"sync"
)

// background is the work a Supervisor does beside the requests it serves
// (a killed session's clean-up in mcp-go, asking a client to confirm a
// held call): each piece runs on a goroutine the Supervisor owns, and
// Close ends them and waits for them.
type background struct {
	mu     sync.Mutex
	wg     sync.WaitGroup
	ctx    context.Context // ends at close
	cancel context.CancelFunc
	closed bool
}

func newBackground() *background {
	ctx, cancel := context.WithCancel(context.Background())
	return &background{ctx: ctx, cancel: cancel}
}

// spawn runs fn on a goroutine of its own with a context that ends at
// close. After close it runs nothing and reports false: the work is moot
// once the Supervisor is gone.
func (b *background) spawn(fn func(ctx context.Context)) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	b.wg.Go(func() { fn(b.ctx) })
	return true
}

// close ends the background work's context and waits for every piece.
func (b *background) close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.cancel()
	b.wg.Wait()
}
