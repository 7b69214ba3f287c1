package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
)

const policyAttackToken = "policy-attack-token-0123456789"

// echoWorkflow lets the desktop agent echo at any point, guarded by
// !args.quiet, with a rule that denies forced echoes. A refused guard
// only flags (on_violation), so a guard that failed is told apart from a
// guard that was false.
const echoWorkflow = `agent: desktop
on_violation: flag
anytime: [say]
steps:
  - name: say
    tool: echo
    guard: "!args.quiet"
rules:
  - name: forced
    when: "args.force || false"
    action: deny
    reason: forced echoes are not allowed
`

// policyConfig writes a config serving desk to the desktop agent with the
// workflow text (beside it) and, if rules is not empty, global rules.
func policyConfig(t *testing.T, workflow, rules string) (cfg, admin string) {
	t.Helper()
	admin = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	rest := fmt.Sprintf(`admin: {listen: %q, token_sha256: %s}
agents:
  - name: desktop
    token_sha256: %s
    workflow: desktop.yaml
`, admin, hashToken(shareAdminToken), hashToken(policyAttackToken))
	if rules != "" {
		rest = "rules: rules.yaml\n" + rest
	}
	cfg = deskConfig(t, "", rest)
	writeFile(t, filepath.Join(filepath.Dir(cfg), "desktop.yaml"), []byte(workflow), 0o600)
	if rules != "" {
		writeFile(t, filepath.Join(filepath.Dir(cfg), "rules.yaml"), []byte(rules), 0o600)
	}
	return cfg, "http://" + admin
}

// TestAttackNonBoolConditionFailsClosed: a guard or a rule typed bool when
// compiled but handed a non-bool argument at run time (a string where a
// boolean was expected) denies the call; it neither passes the guard nor
// skips the deny rule.
func TestAttackNonBoolConditionFailsClosed(t *testing.T) {
	bin := buildWarden(t)
	cfg, admin := policyConfig(t, echoWorkflow, "")
	serve := startServe(t, bin, cfg)
	c := connect(t, serve.url, policyAttackToken)
	calls := []struct {
		name string
		args map[string]any
		want string
	}{
		{"plain", map[string]any{"message": "hi", "quiet": false}, "allow"},
		{"guard false", map[string]any{"message": "hi", "quiet": true}, "flag"},
		{"guard on a string", map[string]any{"message": "hi", "quiet": "no"}, "deny"},
		{"guard on a list", map[string]any{"message": "hi", "quiet": []any{false}}, "deny"},
		{"rule on true", map[string]any{"message": "hi", "quiet": false, "force": true}, "deny"},
		{"rule on a string", map[string]any{"message": "hi", "quiet": false, "force": "yes"}, "deny"},
		{"rule on a number", map[string]any{"message": "hi", "quiet": false, "force": 1}, "deny"},
	}
	for _, call := range calls {
		callTool(t, c, "echo", call.args)
	}
	var sessions []store.Session
	adminJSON(t, http.MethodGet, admin+"/v1/sessions?agent=desktop", &sessions)
	if len(sessions) != 1 {
		t.Fatalf("sessions = %+v", sessions)
	}
	var view supervisor.SessionView
	adminJSON(t, http.MethodGet, admin+"/v1/sessions/"+sessions[0].ID, &view)
	var got []store.Event
	for _, e := range view.Events {
		if e.Kind == "call" {
			got = append(got, e)
		}
	}
	if len(got) != len(calls) {
		t.Fatalf("%d calls on record, want %d: %s", len(got), len(calls), timeline(view.Events))
	}
	for i, call := range calls {
		if got[i].Verdict != call.want {
			t.Errorf("%s: verdict %s, want %s (reasons %v)", call.name, got[i].Verdict, call.want, got[i].Reasons)
		}
	}
}

// brokenPolicies are workflow and rules files with one error each; the
// rest of each file is fine, so a loader that dropped the bad part would
// serve the rest (without its deny rule, or with a step unguarded).
var brokenPolicies = []struct {
	name, workflow, rules, says string
}{
	{"unknown verdict in a workflow rule", strings.Replace(echoWorkflow, "action: deny", "action: denny", 1), "", "denny"},
	{"unknown field in a step", strings.Replace(echoWorkflow, "    guard:", "    gaurd:", 1), "", "gaurd"},
	{"unknown field in a workflow rule", strings.Replace(echoWorkflow, "    when:", "    wen:", 1), "", "wen"},
	{"guard of unknown type", strings.Replace(echoWorkflow, `"!args.quiet"`, `"args.quiet ?? true"`, 1), "", "not a condition"},
	{"rule of unknown type", strings.Replace(echoWorkflow, `"args.force || false"`, `"args.force"`, 1), "", "args.force"},
	{"unknown verdict in global rules", echoWorkflow, "rules:\n  - name: g\n    when: \"args.force == true\"\n    action: dney\n    reason: r\n", "dney"},
	{"unknown key in global rules", echoWorkflow, "rules:\n  - name: g\n    when: \"args.force == true\"\n    action: deny\n    reason: r\nrulez: []\n", "rulez"},
}

// TestAttackBrokenPolicyNotServed: serve and stdio refuse to start on a
// workflow or rules file with any error, naming it; none is served with
// the bad part dropped.
func TestAttackBrokenPolicyNotServed(t *testing.T) {
	bin := buildWarden(t)
	for _, tc := range brokenPolicies {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _ := policyConfig(t, tc.workflow, tc.rules)
			for _, args := range [][]string{{"serve", "-c", cfg}, {"stdio", "-c", cfg, "--agent", "desktop"}} {
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				cmd := exec.CommandContext(ctx, bin, args...)
				cmd.Stdin = strings.NewReader("") // stdio: a client that says nothing
				out, err := cmd.CombinedOutput()
				cancel()
				if err == nil || !strings.Contains(string(out), tc.says) {
					t.Errorf("warden %s on a broken policy: %v, want a failure naming %q:\n%s", args[0], err, tc.says, out)
				}
			}
		})
	}
}

// TestAttackBrokenPolicyNotReloaded: serve keeps enforcing its policy
// when the workflow is rewritten with an error (here its deny rule made
// invalid); the reload it triggers is refused, not applied without the
// bad rule.
func TestAttackBrokenPolicyNotReloaded(t *testing.T) {
	bin := buildWarden(t)
	cfg, _ := policyConfig(t, echoWorkflow, "")
	serve := startServe(t, bin, cfg)
	broken := strings.Replace(echoWorkflow, "action: deny", "action: denny", 1)
	// serve starts watching the policy files once it serves (it logs
	// nothing then): write the file until it answers (a write before is
	// missed; a repeated reload is harmless). A SIGHUP that early would
	// end serve.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(serve.stderr.String(), "reload refused") {
		if time.Now().After(deadline) {
			t.Fatalf("serve did not refuse the broken reload:\n%s", serve.stderr)
		}
		writeFile(t, filepath.Join(filepath.Dir(cfg), "desktop.yaml"), []byte(broken), 0o600)
		time.Sleep(300 * time.Millisecond)
	}
	c := connect(t, serve.url, policyAttackToken)
	if res := callTool(t, c, "echo", map[string]any{"message": "hi", "quiet": false, "force": true}); !res.IsError {
		t.Fatalf("a forced echo went through after a broken reload: %q", resultText(res))
	}
}
