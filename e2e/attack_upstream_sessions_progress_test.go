package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/warden-dev/warden/tools"
)

// Attack on the routing of progress notifications (issue 14): warden
// gives every forwarded request a progress token of its own, "warden-N",
// numbered in order, so they are easy to guess. An upstream session must
// only reach the calls it carries: progress that B's upstream session
// sends with the token of A's call must not reach A.

const injected = "injected by B"

// progressUpstream serves wait (it holds the call until release closes,
// then reports progress "done" with its own token and holds the call
// again until finish closes) and spray (it sends
// progress with each of warden's first 64 tokens to its caller's session:
// a server that lets its caller name a token, or reuses stale ones).
type progressUpstream struct {
	url     string
	started chan struct{} // a wait call arrived
	release chan struct{}
	finish  chan struct{}
}

func newProgressUpstream(t *testing.T) *progressUpstream {
	t.Helper()
	p := &progressUpstream{started: make(chan struct{}, 1), release: make(chan struct{}), finish: make(chan struct{})}
	s := server.NewMCPServer("progress", "1.0.0", server.WithToolCapabilities(false))
	s.AddTool(mcp.NewTool("wait"), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var tok mcp.ProgressToken
		if req.Params.Meta != nil {
			tok = req.Params.Meta.ProgressToken
		}
		p.started <- struct{}{}
		select {
		case <-p.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if tok != nil {
			_ = s.SendNotificationToClient(ctx, string(mcp.MethodNotificationProgress),
				map[string]any{"progressToken": tok, "progress": 1, "message": "done"})
		}
		select {
		case <-p.finish:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return mcp.NewToolResultText("waited"), nil
	})
	s.AddTool(mcp.NewTool("spray"), func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		for i := 1; i <= 64; i++ {
			_ = s.SendNotificationToClient(ctx, string(mcp.MethodNotificationProgress),
				map[string]any{"progressToken": fmt.Sprintf("warden-%d", i), "progress": 1, "message": injected})
		}
		return mcp.NewToolResultText("sprayed"), nil
	})
	p.url = serveUpstream(t, s)
	return p
}

// TestAttackUpstreamSessionsProgressInjection: A's call with a progress
// token is held by its upstream; B, on its own upstream session (of the
// same upstream, or of another one), has the upstream send progress with
// every token warden is likely to have handed out. A must get its own
// progress ("done") and none of B's.
func TestAttackUpstreamSessionsProgressInjection(t *testing.T) {
	for _, tc := range []struct {
		name   string
		shared bool // spray is on another upstream than wait
	}{
		{"same upstream", false},
		{"other upstream", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			slow := newProgressUpstream(t)
			specs := []tools.Spec{{Name: "slow", URL: slow.url, Sharing: tools.PerSession}}
			sprayTool := "spray"
			if tc.shared {
				noisy := newProgressUpstream(t)
				specs = append(specs, tools.Spec{Name: "noisy", URL: noisy.url, Sharing: tools.PerSession})
			}
			w := startWarden(t, specs, sessionAgents)
			a := connect(t, w.URL, agentTokenA)
			b := connect(t, w.URL, agentTokenB)
			names := toolNames(t, b)
			if tc.shared {
				// Two upstreams offer spray; take the one of noisy.
				sprayTool = ""
				for _, n := range names {
					if strings.Contains(n, "spray") && strings.Contains(n, "noisy") {
						sprayTool = n
					}
				}
				if sprayTool == "" {
					t.Fatalf("no spray of upstream noisy in %v", names)
				}
			}

			var mu sync.Mutex
			var got []string
			a.OnNotification(func(n mcp.JSONRPCNotification) {
				if n.Method != string(mcp.MethodNotificationProgress) {
					return
				}
				mu.Lock()
				defer mu.Unlock()
				got = append(got, fmt.Sprint(n.Params.AdditionalFields["message"]))
			})

			done := make(chan *mcp.CallToolResult, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				req := mcp.CallToolRequest{}
				req.Params.Name = "wait" // slow's: the first upstream keeps its names
				req.Params.Meta = &mcp.Meta{ProgressToken: "a-progress"}
				res, err := a.CallTool(ctx, req)
				if err != nil {
					res = mcp.NewToolResultError(err.Error())
				}
				done <- res
			}()
			select {
			case <-slow.started:
			case <-time.After(30 * time.Second):
				t.Fatal("A's wait never reached the upstream")
			}
			if res := callTool(t, b, sprayTool, nil); res.IsError {
				t.Fatalf("B's spray: %s", resultText(res))
			}
			close(slow.release)
			// A's own progress is relayed after anything relayed during
			// B's spray, the same way: once it is in, so is the rest.
			waitFor(t, 10*time.Second, "A's own progress \"done\"", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return slices.Contains(got, "done")
			})
			close(slow.finish)
			if res := <-done; res.IsError {
				t.Fatalf("A's wait: %s", resultText(res))
			}
			mu.Lock()
			defer mu.Unlock()
			for _, m := range got {
				if m == injected {
					t.Fatalf("A's call got progress from B's upstream session: %q", got)
				}
			}
		})
	}
}
