package supervisor

import (
	"context"
	"errors"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/tools"
)

// TestReloadKeepsWhatWasSpent lowers an agent's budget and its agents'
// rate by reload: the new values apply to the next call, and the calls
// made before still count, so a reload is no way to reset either.
func TestReloadKeepsWhatWasSpent(t *testing.T) {
	budget := func(max int) Limits {
		return Limits{Budgets: map[string][]Budget{"ops": {{Tools: "pay*", Max: max, Per: time.Hour}}}}
	}
	cases := []struct {
		name                 string
		max, burst           int
		wantBudget, wantRate int // calls still allowed after the reload
	}{
		{name: "unchanged", max: 4, burst: 4, wantBudget: 2, wantRate: 2},
		{name: "lowered", max: 3, burst: 3, wantBudget: 1, wantRate: 2},              // fresh ones would allow 3 and 3
		{name: "below what was spent", max: 1, burst: 1, wantBudget: 0, wantRate: 1}, // a bucket keeps at most its burst
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rate := func(burst int) Rate { return Rate{PerMinute: 0.001, Burst: burst} }
			sup, _ := startTestSupervisor(t, nil, func(o *Options) {
				o.Limits = budget(4)
				o.Escalation.AgentRate = rate(4)
			})
			for range 2 {
				sp, err := sup.spendBudget(context.Background(), "ops", "pay")
				if err != nil {
					t.Fatal(err)
				}
				sp.keep()
				if !sup.agentLimiter("ops").Allow() {
					t.Fatal("the agent's bucket refused a call within its burst")
				}
			}
			_, err := sup.Reload(t.Context(), Reloaded{Agents: sup.opts.Agents, Limits: budget(c.max), Escalation: Escalation{AgentRate: rate(c.burst)}})
			if err != nil {
				t.Fatal(err)
			}
			spent, allowed := 0, 0
			for range 5 {
				if sp, err := sup.spendBudget(context.Background(), "ops", "pay"); err == nil {
					sp.keep()
					spent++
				}
				if sup.agentLimiter("ops").Allow() {
					allowed++
				}
			}
			if spent != c.wantBudget || allowed != c.wantRate {
				t.Errorf("after the reload %d budgeted calls and %d paced calls went ahead, want %d and %d", spent, allowed, c.wantBudget, c.wantRate)
			}
		})
	}
}

// TestReloadEndsReplacedTokensSessions replaces one agent's token while
// both agents' sessions call a real upstream without pause: the replaced
// token's session is ended on record and its calls fail from then on,
// the other agent's session carries on.
func TestReloadEndsReplacedTokensSessions(t *testing.T) {
	const devToken, newOpsToken = "dev-token-0123456789abcdef", "ops-new-token-0123456789"
	up := server.NewMCPServer("up", "1", server.WithToolCapabilities(true))
	up.AddTool(mcp.NewTool("echo"), func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return mcp.NewToolResultText("ok"), nil
	})
	upSrv := httptest.NewServer(server.NewStreamableHTTPServer(up, server.WithStreamableHTTPProtocolVersions(protocolVersions...)))
	t.Cleanup(upSrv.Close)
	agents := func(opsToken string) []Agent {
		return []Agent{{Name: "ops", TokenSHA256: tokenHash(opsToken)}, {Name: "dev", TokenSHA256: tokenHash(devToken)}}
	}
	sup, db := startTestSupervisor(t, []tools.Spec{{Name: "up", URL: upSrv.URL, Sharing: tools.Shared}}, func(o *Options) {
		o.Agents = agents(testAgentToken)
	})
	srv := httptest.NewServer(sup.Handler())
	t.Cleanup(srv.Close)
	call := func(c *client.Client) error {
		req := mcp.CallToolRequest{}
		req.Params.Name = "echo"
		res, err := c.CallTool(t.Context(), req)
		if err == nil && res.IsError {
			err = errors.New(allText(res))
		}
		return err
	}
	dial := func(token string) *client.Client {
		c, err := testkit.Dial(srv.URL+"/mcp", token, "reload-test", nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		if err := call(c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	ops, dev := dial(testAgentToken), dial(devToken)
	opsID := ops.GetSessionId()

	// Both sessions keep calling while the reload runs.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, c := range []*client.Client{ops, dev} {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					_ = call(c)
				}
			}
		})
	}
	ended, err := sup.Reload(t.Context(), Reloaded{Agents: agents(newOpsToken)})
	close(stop)
	wg.Wait()
	if err != nil || ended != 1 {
		t.Fatalf("Reload ended %d sessions, %v; want 1", ended, err)
	}
	if err := call(ops); err == nil {
		t.Error("the replaced token's session still calls")
	}
	if err := call(dev); err != nil {
		t.Errorf("the other agent's session: %v", err)
	}
	rec, err := db.Session(t.Context(), opsID)
	if err != nil || rec.State != store.StateEnded || rec.Reason != "ended by a configuration reload: the agent's token was replaced" {
		t.Errorf("the replaced token's session on record: %+v %v", rec, err)
	}
}
