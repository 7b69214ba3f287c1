package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/store/postgres"
)

const (
	pgAgentToken = "pg-agent-token-0123456789"
	pgAdminToken = "pg-admin-token-0123456789abcdef"
)

// refundsHeld holds every refund for an approver and allows the rest.
const refundsHeld = `agent: desk
on_violation: step_up
start: [echo, refund]
anytime: [echo, refund]
steps:
  - name: echo
    tool: echo
    next: ["*"]
  - name: refund
    tool: issue_refund
    guard: "false"
    next: ["*"]
`

// TestServeOnPostgres: `warden serve` with store.postgres, a real upstream
// (the desk server, over stdio) and a real client. Calls are recorded in
// PostgreSQL, a held call is decided through the admin API, a killed
// session stays killed when warden is killed and started again, and
// `warden verify -c` finds every chain intact.
func TestServeOnPostgres(t *testing.T) {
	url := testkit.Postgres(t)
	t.Setenv("WARDEN_PG_URL", url)
	bin := buildWarden(t)
	desk := buildCommand(t, "./e2e/fixtures/deskserver")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "warden.yaml")
	if err := os.WriteFile(filepath.Join(dir, "desk.yaml"), []byte(refundsHeld), 0o600); err != nil {
		t.Fatal(err)
	}
	yaml := pgDeskYAML(filepath.Join(dir, "data"), fmt.Sprintf("stdio: {command: %q}", desk), "")
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	db, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })

	p := startServe(t, bin, cfg)
	if strings.Contains(p.stderr.String(), url) {
		t.Fatalf("warden logged the database URL:\n%s", p.stderr)
	}
	// data_dir still holds holder.json, for stdio bridges to find serve.
	if strings.Contains(p.stderr.String(), "cannot act through this process") {
		t.Fatalf("serve on PostgreSQL could not publish itself for stdio bridges:\n%s", p.stderr)
	}
	admin := testkit.Admin{Base: adminBase(t, p), Token: pgAdminToken}
	c := connect(t, p.url, pgAgentToken)
	sid := c.GetSessionId()
	if res := callTool(t, c, "echo", map[string]any{"message": "on postgres"}); res.IsError || resultText(res) != "on postgres" {
		t.Fatalf("echo: %s", resultText(res))
	}

	held := callAsync(c, "issue_refund", map[string]any{"customer_id": "C-1001", "iban": "DE00", "amount": 5}, nil)
	var pending []store.Approval
	waitFor(t, 20*time.Second, "a pending approval in PostgreSQL", func() bool {
		pending, err = db.Approvals(ctx, store.ApprovalFilter{Session: sid, State: store.ApprovalPending})
		return err == nil && len(pending) == 1
	})
	if st, body := admin.Do(t, http.MethodPost, "/v1/approvals/"+pending[0].ID+"/decision", map[string]string{"decision": store.DecisionOnce, "by": "alice"}, nil); st != http.StatusOK {
		t.Fatalf("decision: %d %s", st, body)
	}
	if r := await(t, held, 20*time.Second); r.err != nil || r.res.IsError {
		t.Fatalf("the approved refund: %+v %v", r.res, r.err)
	}
	if st, body := admin.Do(t, http.MethodPost, "/v1/approvals/"+pending[0].ID+"/decision", map[string]string{"decision": store.DecisionDeny, "by": "bob"}, nil); st == http.StatusOK {
		t.Fatalf("a second decision was accepted: %s", body)
	}
	if st, body := admin.Do(t, http.MethodPost, "/v1/sessions/"+sid+"/kill", map[string]string{"reason": "test kill", "by": "alice"}, nil); st != http.StatusOK {
		t.Fatalf("kill: %d %s", st, body)
	}

	// Recorded in PostgreSQL: the calls, the approval, the kill.
	evs, err := db.Events(ctx, sid)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range evs {
		kinds = append(kinds, e.Kind+":"+e.Tool+":"+e.Verdict)
	}
	got := strings.Join(kinds, " ")
	for _, want := range []string{"session_start", "call:echo:allow", "call:issue_refund:step_up", "approval", "kill"} {
		if !strings.Contains(got, want) {
			t.Errorf("events %s; want %s among them", got, want)
		}
	}
	a, err := db.Approval(ctx, pending[0].ID)
	if err != nil || a.State != store.ApprovalApproved || a.DecidedBy != "alice" {
		t.Errorf("approval in PostgreSQL: %+v %v", a, err)
	}

	// A crash and a restart: the killed session stays killed.
	p.kill(t)
	p = startServe(t, bin, cfg)
	if st, body, _, err := ladderPost(nil, p.url, pgAgentToken, sid, toolsList, nil); err != nil || st != http.StatusNotFound {
		t.Fatalf("the killed session after a restart: %d %s %v, want 404", st, body, err)
	}
	if s, err := db.Session(ctx, sid); err != nil || s.State != store.StateKilled || s.Reason != "test kill" {
		t.Fatalf("session after the restart: %+v %v", s, err)
	}
	c2 := connect(t, p.url, pgAgentToken)
	if res := callTool(t, c2, "echo", map[string]any{"message": "again"}); res.IsError {
		t.Fatalf("echo after the restart: %s", resultText(res))
	}

	// verify reads PostgreSQL while warden runs.
	out, err := exec.Command(bin, "verify", "-c", cfg).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "intact") {
		t.Fatalf("warden verify -c: %v\n%s", err, out)
	}
}

// pgDeskYAML is the configuration of a warden on $WARDEN_PG_URL serving
// upstream desk (its transport: "stdio: {...}" or "http: {...}") to agent
// desk under desk.yaml (beside it), with an admin API; storeExtra adds to
// store.postgres (", replica: r0").
func pgDeskYAML(data, transport, storeExtra string) string {
	return fmt.Sprintf(`listen: 127.0.0.1:0
data_dir: %s
log: {level: info, format: json}
store: {postgres: {url_env: WARDEN_PG_URL%s}}
admin: {listen: "127.0.0.1:0", token_sha256: %s}
upstreams:
  - name: desk
    %s
agents:
  - name: desk
    token_sha256: %s
    workflow: desk.yaml
`, data, storeExtra, hashToken(pgAdminToken), transport, hashToken(pgAgentToken))
}

// adminBase waits for warden to log where its admin API is.
func adminBase(t *testing.T, p *wardenProcess) string {
	t.Helper()
	re := regexp.MustCompile(`"msg":"admin API serving".*?"url":"(http://[^"]+)"`)
	var m []string
	waitFor(t, 20*time.Second, "the admin API's address in the log", func() bool {
		m = re.FindStringSubmatch(p.stderr.String())
		return m != nil
	})
	return m[1]
}
