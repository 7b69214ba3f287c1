package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warden-dev/warden/notify"
	"github.com/warden-dev/warden/supervisor"
	"github.com/warden-dev/warden/workflows"
)

// flagWorkflow is the ladder's workflow with a rule that flags payments
// over 5: they go ahead, and someone is told.
const flagWorkflow = ladderWorkflow + `rules:
  - name: unusual-amount
    when: "args.amount > 5"
    action: flag
    reason: payment over 5 is unusual
`

// operatorHook is a webhook receiver written from the README alone, as an
// operator would: it checks Warden-Signature by hand (HMAC-SHA256 of
// "<t>.<body>" with the shared secret, compared in constant time, t within
// five minutes) and keeps the JSON of every delivery it accepts.
type operatorHook struct {
	URL    string
	secret []byte
	mu     sync.Mutex
	got    []map[string]any
	bad    []string
}

func newOperatorHook(t *testing.T, secret []byte) *operatorHook {
	t.Helper()
	h := &operatorHook{secret: secret}
	h.URL = serveHTTP(t, http.HandlerFunc(h.serve))
	return h
}

// refused returns why deliveries were refused, if any were.
func (h *operatorHook) refused() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.bad
}

func (h *operatorHook) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err == nil {
		err = h.check(r.Header.Get("Warden-Signature"), body)
	}
	var msg map[string]any
	if err == nil {
		err = json.Unmarshal(body, &msg)
	}
	if err == nil && r.Header.Get("Warden-Event") != msg["type"] {
		err = fmt.Errorf("Warden-Event %q for a %v message", r.Header.Get("Warden-Event"), msg["type"])
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil {
		h.bad = append(h.bad, err.Error())
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	h.got = append(h.got, msg)
	w.WriteHeader(http.StatusNoContent)
}

// check is the README's recipe: split on ",", take t and every v1,
// compare hex(HMAC_SHA256(secret, t+"."+body)) with each.
func (h *operatorHook) check(header string, body []byte) error {
	var ts string
	var sigs []string
	for part := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("signature %q: no usable t: %w", header, err)
	}
	if d := time.Since(time.Unix(sec, 0)); math.Abs(d.Seconds()) > 300 {
		return fmt.Errorf("signature %q: timestamp %s away", header, d)
	}
	m := hmac.New(sha256.New, h.secret)
	m.Write([]byte(ts + "."))
	m.Write(body)
	want := hex.EncodeToString(m.Sum(nil))
	for _, s := range sigs {
		if hmac.Equal([]byte(s), []byte(want)) {
			return nil
		}
	}
	return fmt.Errorf("signature %q does not match the body", header)
}

// flagged returns the call.flagged deliveries so far.
func (h *operatorHook) flagged() []map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []map[string]any
	for _, m := range h.got {
		if m["type"] == notify.TypeCallFlagged {
			out = append(out, m)
		}
	}
	return out
}

// TestPolicyFlagReachesWebhook: a call that a workflow rule flags goes
// ahead, is recorded as flagged with the rule's reason, and a signed
// call.flagged naming the session, the agent and the reason reaches a
// webhook receiver that checks the signature by hand; a call the rule
// does not match is not flagged.
func TestPolicyFlagReachesWebhook(t *testing.T) {
	hook := newOperatorHook(t, hookSecret)
	wf, err := workflows.Parse("wf.yaml", []byte(flagWorkflow))
	if err != nil {
		t.Fatal(err)
	}
	// The ladder's notifier signs for hookReceiver's URL: here, the
	// operator's receiver.
	l := startLadder(t, filepath.Join(t.TempDir(), "warden.db"), newLadderUpstream(t), &hookReceiver{URL: hook.URL},
		func(o *supervisor.Options) { o.Policies = map[string]*supervisor.Policy{"ops": {Workflow: wf}} })
	c := connect(t, l.URL, opsToken)
	sid := c.GetSessionId()

	if got := resultText(callTool(t, c, "pay", map[string]any{"amount": 3, "to": "bob"})); got != "paid 3 to bob" {
		t.Fatalf("small payment = %q", got)
	}
	if got := resultText(callTool(t, c, "pay", map[string]any{"amount": 7, "to": "eve"})); got != "paid 7 to eve" {
		t.Fatalf("flagged payment = %q, want it to go ahead", got)
	}
	if paid := l.Up.paid.Load(); paid != 2 {
		t.Fatalf("the upstream was paid %d times, want 2", paid)
	}

	var msg map[string]any
	waitFor(t, 10*time.Second, "call.flagged at the operator's webhook", func() bool {
		if f := hook.flagged(); len(f) > 0 {
			msg = f[0]
			return true
		}
		return false
	})
	reasons, _ := json.Marshal(msg["reasons"])
	if msg["session"] != sid || msg["agent"] != "ops" || !strings.Contains(string(reasons), "payment over 5 is unusual") ||
		!strings.Contains(fmt.Sprint(msg["text"]), "pay") {
		t.Fatalf("call.flagged = %v, want session %s, agent ops, the rule's reason and the tool", msg, sid)
	}

	evs, _ := l.timeline(t, sid)
	var verdicts []string
	for _, e := range evs {
		if e.Kind == "call" && e.Tool == "pay" {
			verdicts = append(verdicts, e.Verdict+" "+strings.Join(e.Reasons, "; "))
		}
	}
	if len(verdicts) != 2 || verdicts[0] != "allow " || !strings.HasPrefix(verdicts[1], "flag ") || !strings.Contains(verdicts[1], "payment over 5 is unusual") {
		t.Fatalf("pay calls on the chain = %q, want allow, then flag with the rule's reason", verdicts)
	}
	if bad := hook.refused(); len(bad) > 0 {
		t.Fatalf("webhook deliveries refused by the operator's check: %v", bad)
	}
	if f := hook.flagged(); len(f) != 1 {
		t.Fatalf("%d call.flagged deliveries, want 1 (the small payment is not flagged): %v", len(f), f)
	}
}
