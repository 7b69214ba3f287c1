package supervisor

import (
	"context"
	"encoding/json"
	"sort"
	"sync"
	"time"

	"github.com/warden-dev/warden/store"
)

// authFailureWindow is how long refused tokens are counted before they
// are recorded together, and authFailureAddrs how many addresses one
// record names: a flood from many addresses is counted in More instead,
// so the history grows by at most one bounded event per window whatever
// a client without a token sends.
const (
	authFailureWindow = time.Minute
	authFailureAddrs  = 256
)

// authFailures counts refused tokens for the current window; the first
// refusal of a window starts its flush.
type authFailures struct {
	mu    sync.Mutex
	open  *store.AuthFailures
	index map[string]int // address -> position in open.Addresses
}

// authRefused counts one request refused from remote (host:port or host).
// hadToken tells an unknown token from a missing one.
func (s *Supervisor) authRefused(remote string, hadToken bool) {
	now := time.Now().UTC()
	addr := hostOf(remote) // ports change per connection
	f := &s.authFails
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.open == nil {
		f.open = &store.AuthFailures{From: now}
		f.index = map[string]int{}
		if !s.bg.spawn(s.flushAuthFailuresAfter) {
			f.open = nil // closing: nothing will record it
			return
		}
	}
	i, ok := f.index[addr]
	if !ok {
		if len(f.open.Addresses) >= authFailureAddrs {
			f.open.More++
			return
		}
		i = len(f.open.Addresses)
		f.index[addr] = i
		f.open.Addresses = append(f.open.Addresses, store.AuthFailureSource{Address: addr, First: now})
	}
	src := &f.open.Addresses[i]
	if hadToken {
		src.Invalid++
	} else {
		src.Missing++
	}
	src.Last = now
}

// flushAuthFailuresAfter records the open window when it ends, or at
// close, whichever comes first.
func (s *Supervisor) flushAuthFailuresAfter(ctx context.Context) {
	t := time.NewTimer(authFailureWindow)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	f := &s.authFails
	f.mu.Lock()
	w := f.open
	f.open, f.index = nil, nil
	f.mu.Unlock()
	if w == nil {
		return
	}
	w.Until = time.Now().UTC()
	sort.Slice(w.Addresses, func(i, j int) bool { return w.Addresses[i].First.Before(w.Addresses[j].First) })
	data, err := json.Marshal(w)
	if err == nil {
		// The window's context ends at close; its record must still be made.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		_, err = s.store.Append(actx, store.SystemLog, store.Event{Kind: store.KindAuthFailures, Verdict: "deny",
			Reasons: []string{"requests refused for a missing or unknown bearer token"}, Data: data})
		cancel()
	}
	if err != nil {
		s.log.Error("cannot record refused tokens", "err", err)
	}
}
