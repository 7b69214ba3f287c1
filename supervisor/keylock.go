package supervisor

import (
	"context"
	"sync"
)

// keyLocks serialises work on one key (a session's resumption) while
// work on other keys goes on: on a replica that takes a session over,
// the session's concurrent requests must not each resume it, since a
// second resumption reads the chain while the first one's calls extend
// it, and would find the record behind its history.
type keyLocks struct {
	mu   sync.Mutex
	held map[string]chan struct{} // closed when the key is unlocked
}

// lock waits until key is free, or ctx ends, and takes it; unlock frees it.
func (k *keyLocks) lock(ctx context.Context, key string) (unlock func(), err error) {
	for {
		k.mu.Lock()
		busy, ok := k.held[key]
		if !ok {
			if k.held == nil {
				k.held = map[string]chan struct{}{}
			}
			done := make(chan struct{})
			k.held[key] = done
			k.mu.Unlock()
			return func() {
				k.mu.Lock()
				delete(k.held, key)
				k.mu.Unlock()
				close(done)
			}, nil
		}
		k.mu.Unlock()
		select {
		case <-busy:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
