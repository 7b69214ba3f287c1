package testkit

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Relay is a TCP relay on 127.0.0.1 to one target whose connections can
// all be cut at once: a network partition between a program and what it
// connects to, without touching either.
type Relay struct {
	// Addr is where to connect instead of the target (127.0.0.1:port).
	Addr string

	mu    sync.Mutex
	conns []net.Conn
	cut   bool
}

// NewRelay relays 127.0.0.1:some port to target until t's cleanup.
func NewRelay(t testing.TB, target string) *Relay {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("relay: %v", err)
	}
	r := &Relay{Addr: l.Addr().String()}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		_ = l.Close()
		r.Cut()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil || !r.track(in, out) {
				_ = in.Close()
				if out != nil {
					_ = out.Close()
				}
				continue
			}
			wg.Add(2)
			go func() { defer wg.Done(); pipe(out, in) }()
			go func() { defer wg.Done(); pipe(in, out) }()
		}
	}()
	return r
}

// Cut closes every relayed connection, and every one made from now on
// as soon as it is accepted.
func (r *Relay) Cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cut = true
	for _, c := range r.conns {
		_ = c.Close()
	}
	r.conns = nil
}

// track remembers a relayed pair, unless the relay is cut.
func (r *Relay) track(conns ...net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cut {
		return false
	}
	r.conns = append(r.conns, conns...)
	return true
}

// pipe copies src to dst, and closes both when either side ends.
func pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	_ = dst.Close()
	_ = src.Close()
}
