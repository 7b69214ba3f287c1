package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/store"
)

const heldWorkflow = `agent: a
start: [read]
steps:
  - name: read
    tool: read_file
    guard: "!(args.path startsWith 'notes/')"
    on_violation: step_up
    next: [read]
`

// TestCLIAgainstTheAdminAPI drives the approvals, kill and agents
// commands against a real warden: a held call is approved with the CLI
// and its result reaches the agent; another is denied with --kill and the
// session ends; suspension refuses the agent's token until restored.
func TestCLIAgainstTheAdminAPI(t *testing.T) {
	upURL, stopUp, err := serveDemoUpstream()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stopUp)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "wf.yaml"), heldWorkflow)
	at, _ := serveWithAdmin(t, dir, configText(upURL, dir, "wf.yaml")+"approvals: {timeout: 20s}\n")
	cfgPath := filepath.Join(dir, "warden.yaml")
	getenv := func(k string) string {
		if k == "WARDEN_ADMIN_TOKEN" {
			return "admin-secret-token"
		}
		return ""
	}
	admin := adminFlags{Admin: at.Admin, AdminTokenEnv: "WARDEN_ADMIN_TOKEN"}
	jsonAdmin := admin
	jsonAdmin.JSON = true
	c := dialAgent(t, at.MCP)
	held := func(path string) <-chan *mcp.CallToolResult { return heldRead(c, path) }
	pending := func() store.Approval {
		t.Helper()
		var list []store.Approval
		testkit.WaitFor(t, 10*time.Second, "a pending approval", func() bool {
			var out bytes.Buffer
			cmd := &approvalsLsCmd{adminFlags: jsonAdmin, State: "pending"}
			if err := cmd.run(context.Background(), &out, getenv); err != nil {
				t.Fatal(err)
			}
			list = nil
			_ = json.Unmarshal(out.Bytes(), &list)
			return len(list) == 1
		})
		return list[0]
	}

	// tools ls and accept reach the real API.
	out0 := bytes.Buffer{}
	if err := (&toolsLsCmd{adminFlags: jsonAdmin}).run(context.Background(), &out0, getenv); err != nil ||
		!strings.Contains(out0.String(), `"name": "read_file"`) || !strings.Contains(out0.String(), `"changed": false`) {
		t.Fatalf("tools ls: %v %s", err, out0.String())
	}
	out0.Reset()
	if err := (&toolsAcceptCmd{adminFlags: admin, Name: "read_file", By: "alice"}).run(context.Background(), &out0, getenv); err != nil {
		t.Fatalf("tools accept: %v", err)
	}
	if err := (&toolsAcceptCmd{adminFlags: admin, Name: "no_such_tool", By: "alice"}).run(context.Background(), &out0, getenv); err == nil || !strings.Contains(err.Error(), `no tool "no_such_tool"`) {
		t.Fatalf("tools accept of an unknown tool: %v", err)
	}

	// Approved with the CLI: the call goes through.
	resc := held("notes/C-1002.txt")
	a := pending()
	if a.Tool != "read_file" || !strings.Contains(string(a.Args), "notes/C-1002.txt") {
		t.Fatalf("pending approval = %+v", a)
	}
	var out bytes.Buffer
	// By the id's first 8 characters, as the demo shows it: a unique prefix will do.
	if err := (&approvalsApproveCmd{adminFlags: admin, decisionFlags: decisionFlags{By: "alice"}, ID: a.ID[:8]}).run(context.Background(), &out, getenv); err != nil {
		t.Fatalf("approve: %v", err)
	}
	if !strings.Contains(out.String(), "approved "+a.ID+" ") {
		t.Fatalf("approve by prefix said %q, want the whole id %s", out.String(), a.ID)
	}
	select {
	case res := <-resc:
		if res.IsError || !strings.Contains(resultTextOf(res), "double charge") {
			t.Fatalf("approved call = %+v", res)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the approved call did not return")
	}
	// The same decision again is refused: a decision is used once.
	out.Reset()
	err = (&approvalsApproveCmd{adminFlags: admin, decisionFlags: decisionFlags{By: "alice"}, ID: a.ID}).run(context.Background(), &out, getenv)
	if err == nil || !strings.Contains(err.Error(), "already decided") {
		t.Fatalf("second approve = %v, want already decided", err)
	}

	// Denied with --kill: the call is refused and the session is over.
	resc = held("notes/other.txt")
	a = pending()
	out.Reset()
	if err := (&approvalsDenyCmd{adminFlags: admin, decisionFlags: decisionFlags{By: "bob"}, ID: a.ID, Kill: true}).run(context.Background(), &out, getenv); err != nil {
		t.Fatalf("deny --kill: %v", err)
	}
	if res := <-resc; !res.IsError || !strings.Contains(resultTextOf(res), "denied") {
		t.Fatalf("denied call = %+v", res)
	}
	req := mcp.CallToolRequest{}
	req.Params.Name = "read_file"
	req.Params.Arguments = map[string]any{"path": "policies/refunds.md"}
	if _, err := c.CallTool(context.Background(), req); err == nil {
		t.Fatal("the session lived on after deny --kill")
	}

	// kill --agent ends every session of the agent.
	c2 := dialAgent(t, at.MCP)
	out.Reset()
	if err := (&killCmd{adminFlags: jsonAdmin, Agent: "a", Reason: "test"}).run(context.Background(), &out, getenv); err != nil || !strings.Contains(out.String(), `"killed": 1`) {
		t.Fatalf("kill --agent: %v %s", err, out.String())
	}
	if _, err := c2.CallTool(context.Background(), req); err == nil {
		t.Fatal("the session lived on after kill --agent")
	}

	// Suspension refuses the token until restored.
	out.Reset()
	if err := (&agentsSuspendCmd{adminFlags: admin, Name: "a", Reason: "token leaked", Kill: true}).run(context.Background(), &out, getenv); err != nil {
		t.Fatalf("suspend: %v", err)
	}
	if _, err := dialAgentErr(at.MCP); err == nil {
		t.Fatal("a suspended agent connected")
	}
	raw, _ := http.NewRequest(http.MethodPost, at.MCP, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
	raw.Header.Set("Authorization", "Bearer "+testToken)
	raw.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(raw); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a suspended agent's request: %v %v, want 403", resp, err)
	} else {
		resp.Body.Close()
	}
	out.Reset()
	if err := (&agentsLsCmd{adminFlags: jsonAdmin}).run(context.Background(), &out, getenv); err != nil || !strings.Contains(out.String(), `"suspended": true`) {
		t.Fatalf("agents ls: %v %s", err, out.String())
	}
	out.Reset()
	if err := (&agentsRestoreCmd{adminFlags: admin, Name: "a"}).run(context.Background(), &out, getenv); err != nil {
		t.Fatalf("restore: %v", err)
	}
	dialAgent(t, at.MCP)

	// Replay of the running warden's history goes through its admin API
	// (warden holds the bbolt file).
	t.Setenv("WARDEN_ADMIN_TOKEN", "admin-secret-token")
	replayed, err := printed((&replayCmd{Config: cfgPath, Workflow: filepath.Join(dir, "wf.yaml"), JSON: true}).Run)
	if err != nil {
		t.Fatalf("replay of a running warden's history: %v", err)
	}
	if n := strings.Count(replayed, `"id":`); n < 3 || !strings.Contains(replayed, `"verdict":"step_up"`) {
		t.Fatalf("replay output (%d sessions):\n%s", n, replayed)
	}
	// So does baseline show: learned from the history now; the agent's
	// sessions were all killed or are live, so none is learned from.
	shown, err := printed((&baselineShowCmd{historyFlags: historyFlags{Config: cfgPath, AdminTokenEnv: "WARDEN_ADMIN_TOKEN", JSON: true}, Agent: "a"}).Run)
	if err != nil || !strings.Contains(shown, `"source": "learned from history"`) || !strings.Contains(shown, `"sessions": 0`) {
		t.Fatalf("baseline show of a running warden: %v\n%s", err, shown)
	}
}

func resultTextOf(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}
