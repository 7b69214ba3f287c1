package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/warden-dev/warden/notify"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
)

// Step-up end to end: a big payment is held, the approver hears of it by
// a signed webhook, and decides through the admin API or a link.

func TestStepUpApprovedThroughAPI(t *testing.T) {
	l := newLadder(t)
	c := connect(t, l.URL, opsToken)
	sid := c.GetSessionId()
	if res := callTool(t, c, "echo", map[string]any{"message": "hi"}); res.IsError {
		t.Fatalf("echo: %s", resultText(res))
	}
	if res := callTool(t, c, "pay", map[string]any{"amount": 5, "to": "bob"}); res.IsError || l.Up.paid.Load() != 1 {
		t.Fatalf("a payment within the guard was not allowed: %s", resultText(res))
	}

	held := callAsync(c, "pay", map[string]any{"amount": 50, "to": "mallory"}, nil)
	m := l.Hook.requested(t, sid)
	a := m.Approval
	switch {
	case a == nil || a.ID == "":
		t.Fatalf("approval.requested without the approval: %+v", m)
	case m.Agent != "ops" || m.Session != sid || a.Agent != "ops" || a.Session != sid:
		t.Fatalf("webhook names agent %q session %q (approval %q/%q), want ops/%s", m.Agent, m.Session, a.Agent, a.Session, sid)
	case a.Tool != "pay" || !strings.Contains(string(a.Args), `"amount":50`) || a.ArgsDigest == "":
		t.Fatalf("webhook's call = %s %s digest %q", a.Tool, a.Args, a.ArgsDigest)
	case len(m.Reasons) == 0 || !strings.Contains(strings.Join(m.Reasons, ";"), "guard"):
		t.Fatalf("webhook reasons = %q, want the failed guard", m.Reasons)
	case m.Client != "e2e-agent 0.1" || !strings.HasPrefix(m.RemoteAddr, "127.0.0.1:"):
		t.Fatalf("webhook client %q remote %q", m.Client, m.RemoteAddr)
	case a.State != store.ApprovalPending || !a.Expires.After(a.Created):
		t.Fatalf("webhook approval = %+v", a)
	}
	var recent []string
	for _, r := range m.Recent {
		recent = append(recent, r.Tool+":"+r.Verdict)
	}
	if strings.Join(recent, " ") != "echo:allow pay:allow" {
		t.Fatalf("webhook recent calls = %v, want echo:allow pay:allow", recent)
	}
	for _, d := range []string{store.DecisionOnce, store.DecisionSession, store.DecisionDeny, store.DecisionDenyKill} {
		if !strings.HasPrefix(m.Links[d], l.Admin+"/v1/decide?token=") {
			t.Fatalf("decision link %q = %q, want one on %s", d, m.Links[d], l.Admin)
		}
	}

	// Held: the request is open and nothing reached the upstream.
	stillOpen(t, held)
	if n := l.Up.paid.Load(); n != 1 {
		t.Fatalf("the held payment reached the upstream (%d payments)", n)
	}
	var got store.Approval
	if st, body := l.admin(t, http.MethodGet, "/v1/approvals/"+a.ID, nil, &got); st != 200 || got.State != store.ApprovalPending {
		t.Fatalf("GET approval: %d %s", st, body)
	}
	if st, body := l.admin(t, http.MethodPost, "/v1/approvals/"+a.ID+"/decision", map[string]string{"decision": "once"}, nil); st != http.StatusBadRequest {
		t.Fatalf("a decision without who decides: %d %s, want 400", st, body)
	}
	if st, body := l.decide(t, a.ID, store.DecisionOnce); st != 200 {
		t.Fatalf("decide: %d %s", st, body)
	}
	r := await(t, held, 10*time.Second)
	if r.err != nil || r.res.IsError || resultText(r.res) != "paid 50 to mallory" {
		t.Fatalf("approved call: %+v %v", r.res, r.err)
	}
	if st, body := l.admin(t, http.MethodGet, "/v1/approvals/"+a.ID, nil, &got); st != 200 || got.State != store.ApprovalApproved || got.Decision != "once" || got.DecidedBy != "alice" {
		t.Fatalf("approval after the decision: %d %s", st, body)
	}
	l.Hook.wait(t, 10*time.Second, "approval.decided", func(m notify.Message) bool {
		return m.Type == notify.TypeApprovalDecided && m.Approval != nil && m.Approval.ID == a.ID && m.Approval.DecidedBy == "alice"
	})

	// "once" approves that call only: the next big payment is held again,
	// and a denial reaches the agent as a refusal.
	held = callAsync(c, "pay", map[string]any{"amount": 50, "to": "mallory"}, nil)
	second := l.pending(t, sid, 1)[0]
	if second.ID == a.ID {
		t.Fatal("the second call reused the first approval")
	}
	if st, body := l.decide(t, second.ID, store.DecisionDeny); st != 200 {
		t.Fatalf("deny: %d %s", st, body)
	}
	r = await(t, held, 10*time.Second)
	if r.err != nil || !r.res.IsError || !strings.Contains(resultText(r.res), "an approver denied it") {
		t.Fatalf("denied call: %+v %v", r.res, r.err)
	}
	if n := l.Up.paid.Load(); n != 2 {
		t.Fatalf("payments at the upstream = %d, want 2 (the denied one must not go)", n)
	}

	evs, tl := l.timeline(t, sid)
	want := "session_start call:echo:allow upstream_session result:echo:allow call:pay:allow result:pay:allow " +
		"call:pay:step_up approval:pay:approved result:pay:allow call:pay:step_up approval:pay:denied"
	if strings.Join(tl, " ") != want {
		t.Fatalf("timeline:\n%s\nwant\n%s", strings.Join(tl, " "), want)
	}
	if evs[6].CallID == "" || evs[6].CallID != evs[7].CallID || evs[7].CallID != evs[8].CallID {
		t.Fatalf("call, approval and result of the approved call are not one call: %q %q %q", evs[5].CallID, evs[6].CallID, evs[7].CallID)
	}
	var rep store.Report
	if st, body := l.admin(t, http.MethodGet, "/v1/verify", nil, &rep); st != 200 || len(rep.Broken) != 0 || rep.Events < len(evs) {
		t.Fatalf("verify: %d %s", st, body)
	}
}

func TestStepUpDecidedByLink(t *testing.T) {
	l := newLadder(t)
	c := connect(t, l.URL, opsToken)
	sid := c.GetSessionId()
	held := callAsync(c, "pay", map[string]any{"amount": 60, "to": "carol"}, nil)
	m := l.Hook.requested(t, sid)
	once := m.Links[store.DecisionOnce]

	// GET shows the call and decides nothing (link scanners open URLs).
	for range 2 {
		resp, err := http.Get(once)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(page), "Confirm: once") || !strings.Contains(string(page), m.Approval.ID) {
			t.Fatalf("link page: %d %s", resp.StatusCode, page)
		}
	}
	stillOpen(t, held)
	if a, err := l.Store.Approval(context.Background(), m.Approval.ID); err != nil || a.State != store.ApprovalPending {
		t.Fatalf("after GETs of the link the approval is %+v (%v), want pending", a, err)
	}

	st, body := postLink(t, once)
	if st != 200 || !strings.Contains(body, "decided: once") {
		t.Fatalf("POST link: %d %s", st, body)
	}
	r := await(t, held, 10*time.Second)
	if r.err != nil || r.res.IsError || resultText(r.res) != "paid 60 to carol" {
		t.Fatalf("call approved by link: %+v %v", r.res, r.err)
	}
	a, err := l.Store.Approval(context.Background(), m.Approval.ID)
	if err != nil || !strings.HasPrefix(a.DecidedBy, "decision link ") || a.Decision != store.DecisionOnce {
		t.Fatalf("approval decided by link = %+v (%v)", a, err)
	}
	// Single use: the same link again, and another decision's link of the
	// same approval, are refused.
	for _, d := range []string{store.DecisionOnce, store.DecisionDenyKill} {
		if st, body := postLink(t, m.Links[d]); st != http.StatusConflict {
			t.Fatalf("link %s reused: %d %s, want 409", d, st, body)
		}
	}
	if a2, _ := l.Store.Approval(context.Background(), m.Approval.ID); a2.Decision != store.DecisionOnce || a2.DecidedAt != a.DecidedAt {
		t.Fatalf("a replayed link changed the decision: %+v", a2)
	}
	if n := l.Up.paid.Load(); n != 1 {
		t.Fatalf("payments at the upstream = %d, want 1", n)
	}
}

// postLink makes a link's decision as the page's form does.
func postLink(t *testing.T, link string) (int, string) {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	token := u.Query().Get("token")
	u.RawQuery = ""
	resp, err := http.PostForm(u.String(), url.Values{"token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestStepUpApprovedForSession(t *testing.T) {
	l := newLadder(t)
	c := connect(t, l.URL, opsToken)
	sid := c.GetSessionId()
	held := callAsync(c, "pay", map[string]any{"amount": 70, "to": "dave"}, nil)
	a := l.pending(t, sid, 1)[0]
	if st, body := l.decide(t, a.ID, store.DecisionSession); st != 200 {
		t.Fatalf("decide session: %d %s", st, body)
	}
	if r := await(t, held, 10*time.Second); r.err != nil || r.res.IsError {
		t.Fatalf("approved call: %+v %v", r.res, r.err)
	}
	// The same step, the amount the guard read as the approver saw it,
	// another payee (which no guard reads): allowed without a new approval.
	// approval_scope_test.go shows that another amount is not.
	res := callTool(t, c, "pay", map[string]any{"amount": 70, "to": "erin"})
	if res.IsError || resultText(res) != "paid 70 to erin" {
		t.Fatalf("a later call of the approved step: %s", resultText(res))
	}
	all, err := l.Store.Approvals(context.Background(), store.ApprovalFilter{Session: sid})
	if err != nil || len(all) != 1 {
		t.Fatalf("approvals of the session = %d (%v), want only the first", len(all), err)
	}
	evs, _ := l.timeline(t, sid)
	last := evs[len(evs)-2]
	if last.Kind != store.KindCall || last.Verdict != "allow" || !strings.Contains(strings.Join(last.Reasons, ";"), "approved for this session by alice") {
		t.Fatalf("later call recorded as %+v", last)
	}
	// Another session of the same agent is not covered by the approval.
	c2 := connect(t, l.URL, opsToken)
	held2 := callAsync(c2, "pay", map[string]any{"amount": 70, "to": "erin"}, nil)
	a2 := l.pending(t, c2.GetSessionId(), 1)[0]
	if st, body := l.decide(t, a2.ID, store.DecisionDeny); st != 200 {
		t.Fatalf("deny: %d %s", st, body)
	}
	if r := await(t, held2, 10*time.Second); r.err != nil || !r.res.IsError {
		t.Fatalf("denied call in another session: %+v %v", r.res, r.err)
	}
}

func TestStepUpDenyKill(t *testing.T) {
	l := newLadder(t)
	c := connect(t, l.URL, opsToken)
	sid := c.GetSessionId()
	held := callAsync(c, "pay", map[string]any{"amount": 90, "to": "mallory"}, nil)
	a := l.pending(t, sid, 1)[0]
	if st, body := l.decide(t, a.ID, store.DecisionDenyKill); st != 200 {
		t.Fatalf("deny_kill: %d %s", st, body)
	}
	r := await(t, held, 10*time.Second)
	if r.err == nil && (!r.res.IsError || !strings.Contains(resultText(r.res), "ended this session")) {
		t.Fatalf("call denied with kill: %+v", r.res)
	}
	st, body, _, err := ladderPost(nil, l.URL, opsToken, sid, `{"jsonrpc":"2.0","id":9,"method":"tools/list"}`, nil)
	if err != nil || st != http.StatusNotFound {
		t.Fatalf("request on the killed session: %d %s %v, want 404", st, body, err)
	}
	if _, err := c.ListTools(context.Background(), mcp.ListToolsRequest{}); err == nil {
		t.Fatal("the client still works on a killed session")
	}
	rec, err := l.Store.Session(context.Background(), sid)
	if err != nil || rec.State != store.StateKilled {
		t.Fatalf("session record = %+v (%v), want killed", rec, err)
	}
	k := l.Hook.wait(t, 10*time.Second, "session.killed", func(m notify.Message) bool {
		return m.Type == notify.TypeSessionKilled && m.Session == sid
	})
	if !strings.Contains(k.Msg.Text, "alice") {
		t.Fatalf("kill webhook does not say who: %q", k.Msg.Text)
	}
	_, tl := l.timeline(t, sid)
	if got := strings.Join(tl, " "); !strings.Contains(got, "call:pay:step_up approval:pay:denied kill session_end") {
		t.Fatalf("timeline %s lacks the denial and kill", got)
	}
	if l.Up.paid.Load() != 0 {
		t.Fatal("a denied payment reached the upstream")
	}
}

func TestStepUpTimeoutDenies(t *testing.T) {
	// Longer than progressEvery (5 s), so that a progress notification is due.
	const timeout = 6 * time.Second
	l := newLadder(t, func(o *supervisor.Options) { o.Escalation.ApprovalTimeout = timeout })
	c := connect(t, l.URL, opsToken)
	var mu sync.Mutex
	var progress []mcp.JSONRPCNotification
	c.OnNotification(func(n mcp.JSONRPCNotification) {
		if n.Method == string(mcp.MethodNotificationProgress) {
			mu.Lock()
			progress = append(progress, n)
			mu.Unlock()
		}
	})
	sid := c.GetSessionId()
	start := time.Now()
	held := callAsync(c, "pay", map[string]any{"amount": 99, "to": "x"}, "tok-1")
	m := l.Hook.requested(t, sid)
	r := await(t, held, timeout+10*time.Second)
	waited := time.Since(start)
	if r.err != nil || !r.res.IsError || !strings.Contains(resultText(r.res), "no approver decided within 6s") {
		t.Fatalf("timed-out call: %+v %v", r.res, r.err)
	}
	if waited < timeout {
		t.Fatalf("call ended after %s, before the %s timeout", waited, timeout)
	}
	mu.Lock()
	got := append([]mcp.JSONRPCNotification(nil), progress...)
	mu.Unlock()
	if len(got) == 0 {
		t.Fatal("no progress notification while the call was held")
	}
	pb, _ := json.Marshal(got[0].Params)
	if !strings.Contains(string(pb), `"progressToken":"tok-1"`) || !strings.Contains(string(pb), "waiting for an approver") {
		t.Fatalf("progress notification = %s", pb)
	}

	a, err := l.Store.Approval(context.Background(), m.Approval.ID)
	if err != nil || a.State != store.ApprovalExpired || a.Decision != "" {
		t.Fatalf("approval after the timeout = %+v (%v), want expired", a, err)
	}
	st, body := l.decide(t, a.ID, store.DecisionOnce)
	if st != http.StatusGone || !strings.Contains(body, "expired") {
		t.Fatalf("decision after the timeout: %d %s, want 410", st, body)
	}
	// The link expired with the approval: refused as a bad link.
	if st, body := postLink(t, m.Links[store.DecisionOnce]); st != http.StatusForbidden || !strings.Contains(body, "expired") {
		t.Fatalf("link after the timeout: %d %s, want 403 expired", st, body)
	}
	if l.Up.paid.Load() != 0 {
		t.Fatal("a timed-out payment reached the upstream")
	}
	_, tl := l.timeline(t, sid)
	if got := strings.Join(tl, " "); got != "session_start call:pay:step_up approval:pay:expired" {
		t.Fatalf("timeline %s", got)
	}
}
