package console

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// loginLimiter bounds failed sign-ins per client (its address, or a
// browser that signed in before: devices), so that a token cannot be
// guessed at the console's speed.
type loginLimiter struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	fails  map[string][]time.Time
}

func newLoginLimiter(maxFails int, window time.Duration) *loginLimiter {
	return &loginLimiter{max: maxFails, window: window, fails: map[string][]time.Time{}}
}

// clientOf is the request's remote host (without the port).
func clientOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// recent drops the failures older than the window and returns the rest.
func (l *loginLimiter) recent(client string, now time.Time) []time.Time {
	kept := l.fails[client][:0]
	for _, t := range l.fails[client] {
		if now.Sub(t) < l.window {
			kept = append(kept, t)
		}
	}
	if len(kept) == 0 {
		delete(l.fails, client)
		return nil
	}
	l.fails[client] = kept
	return kept
}

// allowed reports whether client may try to sign in now.
func (l *loginLimiter) allowed(client string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.recent(client, now)) < l.max
}

// failed counts a failed sign-in.
func (l *loginLimiter) failed(client string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fails[client] = append(l.recent(client, now), now)
}
