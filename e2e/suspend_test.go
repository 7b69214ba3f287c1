package e2e

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
)

const initBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}`

func TestSuspendAgent(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "warden.db")
	up, hook := newLadderUpstream(t), newHookReceiver(t)
	l := startLadder(t, dbPath, up, hook)
	c := connect(t, l.URL, opsToken)
	sid := c.GetSessionId()
	other := connect(t, l.URL, "other-token-0123456789abcdef")

	var out struct {
		Suspended bool
		Killed    int
	}
	st, body := l.admin(t, http.MethodPost, "/v1/agents/ops/suspend", map[string]any{"reason": "token leaked", "by": "alice", "kill": true}, &out)
	if st != 200 || !out.Suspended || out.Killed != 1 {
		t.Fatalf("suspend: %d %s, want suspended with 1 session killed", st, body)
	}
	if rec, _ := l.Store.Session(t.Context(), sid); rec.State != store.StateKilled {
		t.Fatalf("the suspended agent's session is %s, want killed", rec.State)
	}
	refusedNow := func(l *ladder) {
		t.Helper()
		st, body, _, err := ladderPost(nil, l.URL, opsToken, "", initBody, nil)
		if err != nil || st != http.StatusForbidden || !strings.Contains(body, "suspended (token leaked)") {
			t.Fatalf("new session of the suspended agent: %d %s %v, want 403", st, body, err)
		}
		if _, err := dial(l.URL, opsToken); err == nil {
			t.Fatal("an mcp-go client connected as the suspended agent")
		}
	}
	refusedNow(l)
	if st, _, _, _ := ladderPost(nil, l.URL, opsToken, sid, toolsList, nil); st != http.StatusForbidden {
		t.Fatalf("old session of the suspended agent: %d, want 403", st)
	}
	if res := callTool(t, other, "echo", map[string]any{"message": "x"}); res.IsError {
		t.Fatalf("another agent was hit: %s", resultText(res))
	}
	var agents []supervisor.AgentStatus
	l.admin(t, http.MethodGet, "/v1/agents", nil, &agents)
	if len(agents) != 2 || agents[0].Name != "ops" || !agents[0].Suspended || agents[0].Reason != "token leaked" || agents[1].Suspended || agents[1].LiveSessions != 1 {
		t.Fatalf("agents = %+v", agents)
	}

	// The suspension outlives a restart.
	l.stop()
	l2 := startLadder(t, dbPath, up, hook)
	refusedNow(l2)

	if st, body := l2.admin(t, http.MethodPost, "/v1/agents/ops/restore", map[string]string{"by": "bob"}, nil); st != 200 {
		t.Fatalf("restore: %d %s", st, body)
	}
	c2 := connect(t, l2.URL, opsToken)
	if res := callTool(t, c2, "echo", map[string]any{"message": "back"}); res.IsError {
		t.Fatalf("call after restore: %s", resultText(res))
	}
	// Restored stays restored after another restart.
	l2.stop()
	l3 := startLadder(t, dbPath, up, hook)
	connect(t, l3.URL, opsToken)
	if st, _ := l3.admin(t, http.MethodPost, "/v1/agents/nobody/suspend", nil, nil); st != http.StatusNotFound {
		t.Fatalf("suspend an unknown agent: %d, want 404", st)
	}
}
