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
// it holds: registered and not yet ended by a DELETE.
type liveUpstream struct {
	url  string
	mu   sync.Mutex
	live map[string]bool
}

func newLiveUpstream(t *testing.T) *liveUpstream {
	t.Helper()
	u := &liveUpstream{live: map[string]bool{}}
	hooks := &server.Hooks{}
	hooks.AddOnRegisterSession(func(_ context.Context, s server.ClientSession) {
		u.mu.Lock()
		defer u.mu.Unlock()
		u.live[s.SessionID()] = true
	})
	hooks.AddOnUnregisterSession(func(_ context.Context, s server.ClientSession) {
		u.mu.Lock()
		defer u.mu.Unlock()
		delete(u.live, s.SessionID())
	})
	s := server.NewMCPServer("live", "1.0.0", server.WithResourceCapabilities(true, false), server.WithHooks(hooks))
	s.AddResource(mcp.NewResource("live://doc", "doc"), func(context.Context, mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
		return []mcp.ResourceContents{mcp.TextResourceContents{URI: "live://doc", Text: "doc"}}, nil
	})
	u.url = serveUpstream(t, s)
	return u
}

func (u *liveUpstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.live)
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
				_, _, _, _ = ladderPost(nil, w.URL, agentTokenB, sid, subscribe, nil)
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
