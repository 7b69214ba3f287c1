package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
	"github.com/warden-dev/warden/workflows"
)

// intentSession opens a session whose initialize carries meta as its
// params._meta (raw JSON, "" for none) and hdr as extra headers; it
// returns the session id, or "" and the status when the initialize is
// refused.
func intentSession(t *testing.T, url, token, meta string, hdr map[string]string) (string, int, string) {
	t.Helper()
	params := `"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"framework","version":"1"}`
	if meta != "" {
		params += `,"_meta":` + meta
	}
	st, body, h, err := ladderPost(nil, url, token, "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{`+params+`}}`, hdr)
	if err != nil {
		t.Fatal(err)
	}
	if st != http.StatusOK {
		return "", st, body
	}
	sid := h.Get("Mcp-Session-Id")
	if st, body, _, err := ladderPost(nil, url, token, sid, `{"jsonrpc":"2.0","method":"notifications/initialized"}`, hdr); err != nil || st != http.StatusAccepted {
		t.Fatalf("initialized: %d %s %v", st, body, err)
	}
	return sid, st, body
}

// intentWorkflow is the ladder's workflow for agent other, requiring a
// declared intent, with a rule that reads it.
const intentWorkflow = `
agent: other
require_intent: true
anytime: [echo]
steps:
  - name: echo
    tool: echo
rules:
  - name: refunds
    when: "session.intent.request contains 'refund'"
    action: deny
    reason: refunds are not this agent's task
`

// TestDeclaredIntentNarrowsAndIsRecorded: an intent declared at initialize
// (in _meta or the header) or on a call is recorded on the chain, narrows
// the workflow (a call its actions do not cover steps up, and the approver
// sees the user's request), reaches rules, and is required where the
// workflow says so; a malformed one is refused.
func TestDeclaredIntentNarrowsAndIsRecorded(t *testing.T) {
	l := newLadder(t, func(o *supervisor.Options) {
		wf, err := workflows.Parse("other.yaml", []byte(intentWorkflow))
		if err != nil {
			t.Fatal(err)
		}
		o.Policies["other"] = &supervisor.Policy{Workflow: wf}
	})
	const otherToken = "other-token-0123456789abcdef"
	call := func(token, sid string, id int, tool, args, meta string) string {
		t.Helper()
		body := toolCallBody(id, tool, args)
		if meta != "" {
			body = strings.Replace(body, `"arguments":`, `"_meta":`+meta+`,"arguments":`, 1)
		}
		st, res, _, err := ladderPost(nil, l.URL, token, sid, body, nil)
		if err != nil || st != http.StatusOK {
			t.Fatalf("%s: %d %s %v", tool, st, res, err)
		}
		return res
	}

	sid, _, _ := intentSession(t, l.URL, opsToken, `{"dev.warden/intent":{"request":"say hello for me","actions":["echo"]}}`, nil)
	if res := call(opsToken, sid, 2, "echo", `{"message":"hello"}`, ""); !strings.Contains(res, "echo: hello") {
		t.Fatalf("echo, which the intent covers: %s", res)
	}
	// pay is in the workflow, but not in what the task needs: it steps up,
	// and the approver weighs it against the user's request.
	done := make(chan string, 1)
	go func() { done <- call(opsToken, sid, 3, "pay", `{"amount":1,"to":"mallory"}`, "") }()
	msg := l.Hook.requested(t, sid)
	if msg.Intent != "say hello for me" || !strings.Contains(strings.Join(msg.Reasons, " "), "declared intent") {
		t.Fatalf("approval request: intent %q, reasons %v", msg.Intent, msg.Reasons)
	}
	l.decide(t, msg.Approval.ID, store.DecisionDeny)
	if res := <-done; !strings.Contains(res, "denied") || l.Up.paid.Load() != 0 {
		t.Fatalf("pay outside the intent, denied by the approver: %s (paid %d)", res, l.Up.paid.Load())
	}
	// A framework that changes the task mid-session declares it on the call.
	if res := call(opsToken, sid, 4, "pay", `{"amount":1,"to":"bob"}`, `{"dev.warden/intent":{"request":"pay bob 1","actions":["pay"]}}`); !strings.Contains(res, "paid 1 to bob") {
		t.Fatalf("pay once the intent covers it: %s", res)
	}
	evs, tl := l.timeline(t, sid)
	var start struct {
		Intent workflows.Intent `json:"intent"`
	}
	if err := json.Unmarshal(evs[0].Data, &start); err != nil || start.Intent.Request != "say hello for me" {
		t.Fatalf("session_start data %s: the declared intent is not on record", evs[0].Data)
	}
	if got := strings.Join(tl, " "); !strings.Contains(got, "intent call:pay:allow") {
		t.Fatalf("timeline %s: want the declared intent recorded before the call it came with", got)
	}

	// The header, percent-encoded; a rule reads it.
	osid, _, _ := intentSession(t, l.URL, otherToken, "", map[string]string{"Warden-Intent": "please%20refund%20order%2042"})
	if res := call(otherToken, osid, 2, "echo", `{"message":"x"}`, ""); !strings.Contains(res, "refunds are not this agent") {
		t.Fatalf("a rule reading session.intent: %s", res)
	}
	// require_intent: no intent, no calls.
	nsid, _, _ := intentSession(t, l.URL, otherToken, "", nil)
	if res := call(otherToken, nsid, 2, "echo", `{"message":"x"}`, ""); !strings.Contains(res, "requires a declared intent") {
		t.Fatalf("a call without an intent where the workflow requires one: %s", res)
	}
	// A malformed intent is refused at the door.
	for _, bad := range []string{`{"dev.warden/intent":42}`, `{"dev.warden/intent":{"request":"x","admin":true}}`, `{"dev.warden/intent":"` + strings.Repeat("a", 5000) + `"}`} {
		if sid, st, body := intentSession(t, l.URL, opsToken, bad, nil); sid != "" || st != http.StatusBadRequest || !strings.Contains(body, "intent") {
			t.Fatalf("initialize with intent %.60s: %d %s", bad, st, body)
		}
	}
}
