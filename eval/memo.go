package eval

import "sync"

// Bounds of a memo: the strings it remembers answers for, in number and
// in bytes; past either it forgets them all and starts again.
const (
	memoMaxKeys  = 4096
	memoMaxBytes = 1 << 20
)

// memo remembers a pure function's answers by the string it was asked
// about. Expressions ask the same question at every call of every session
// of a history (the host of the same URL, the URLs in the same message),
// and parsing a URL both ways (urlparse.go) costs far more than looking
// it up. It is safe for concurrent use: a compiled program is shared by
// every session.
type memo[V any] struct {
	f     func(string) V
	mu    sync.Mutex
	m     map[string]V
	bytes int
}

func newMemo[V any](f func(string) V) *memo[V] { return &memo[V]{f: f, m: map[string]V{}} }

// get is f(s), computed once for each s while it is remembered.
func (c *memo[V]) get(s string) V {
	c.mu.Lock()
	v, ok := c.m[s]
	c.mu.Unlock()
	if ok {
		return v
	}
	v = c.f(s)
	if len(s) > memoMaxBytes/64 {
		return v // not worth holding
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= memoMaxKeys || c.bytes+len(s) > memoMaxBytes {
		clear(c.m)
		c.bytes = 0
	}
	if _, ok := c.m[s]; !ok {
		c.m[s] = v
		c.bytes += len(s)
	}
	return v
}
