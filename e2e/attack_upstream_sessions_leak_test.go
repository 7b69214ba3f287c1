package e2e

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/warden-dev/warden/tools"
)

// Attack on the bound of upstream sessions (issue 14): an agent that ends
// its sessions while requests of theirs are still on their way must not
// leave upstream sessions open for sessions that are gone (they would hold
// a place under the upstream's cap, and its state, until they idle out).

// liveUpstream serves one subscribable resource and counts the sessions
// warden left open: initialized and not ended by warden's DELETE. The
// DELETE is counted by id, whatever the order: mcp-go's server registers a
// session only after it has answered the initialize, so a DELETE sent at
// once can come first, and the server would then keep the session (its
// own race, not warden's).
type liveUpstream struct {
	url     string
	mu      sync.Mutex
	opened  map[string]bool
	deleted map[string]bool
}

func newLiveUpstream(t *testing.T) *liveUpstream {
	t.Helper()
	u := &liveUpstream{opened: map[string]bool{}, deleted: map[string]bool{}}
	hooks := &server.Hooks{}
	hooks.AddOnRegisterSession(func(_ context.Context, s server.ClientSession) {
		u.mu.Lock()
		defer u.mu.Unlock()
		u.opened[s.SessionID()] = true
	})
	s := server.NewMCPServer("live", "1.0.0", server.WithResourceCapabilities(true, false), server.WithHooks(hooks))
	s.AddResource(mcp.NewResource("live://doc", "doc"), func(context.Context, mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
		return []mcp.ResourceContents{mcp.TextResourceContents{URI: "live://doc", Text: "doc"}}, nil
	})
	h := server.NewStreamableHTTPServer(s,
		server.WithStreamableHTTPProtocolVersions("2025-11-25", "2025-06-18", "2025-03-26"))
	mux := http.NewServeMux()
	mux.Handle("/mcp", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete {
			u.mu.Lock()
			u.deleted[r.Header.Get(server.HeaderKeySessionID)] = true
			u.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	}))
	u.url = serveHTTP(t, mux) + "/mcp"
	return u
}

// count is the number of sessions opened and not DELETEd.
func (u *liveUpstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := 0
	for id := range u.opened {
		if !u.deleted[id] {
			n++
		}
	}
	return n
}

// TestAttackUpstreamSessionsSubscribeThenLeave: B opens sessions, and in
// each subscribes to a resource (which opens its upstream session) while
// it closes the session. Once all of B's sessions are gone, the upstream
// holds only warden's own session (its catalog), none of B's.
func TestAttackUpstreamSessionsSubscribeThenLeave(t *testing.T) {
	up := newLiveUpstream(t)
	w := startWarden(t, []tools.Spec{{Name: "live", URL: up.url, Sharing: tools.PerSession}}, sessionAgents)
	own := up.count() // warden's own session with the upstream

	const rounds, subscribers = 200, 4
	const subscribe = `{"jsonrpc":"2.0","id":2,"method":"resources/subscribe","params":{"uri":"live://doc"}}`
	for range rounds {
		sid := rawSession(t, nil, w.URL, agentTokenB, "leaver")
		var wg sync.WaitGroup
		for range subscribers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, _, _ = ladderPost(nil, w.URL, agentTokenB, sid, subscribe, map[string]string{"User-Agent": "leaver"})
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, err := http.NewRequest(http.MethodDelete, w.URL, http.NoBody)
			if err != nil {
				t.Error(err)
				return
			}
			req.Header.Set("Authorization", "Bearer "+agentTokenB)
			req.Header.Set("User-Agent", "leaver")
			req.Header.Set(server.HeaderKeySessionID, sid)
			if res, err := http.DefaultClient.Do(req); err == nil {
				res.Body.Close()
			}
		}()
		wg.Wait()
	}
	deadline := time.Now().Add(20 * time.Second)
	for up.count() > own && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if n := up.count(); n > own {
		t.Fatalf("the upstream holds %d sessions after all of B's ended; warden's own are %d: %d upstream sessions outlived their agent sessions", n, own, n-own)
	}
}
