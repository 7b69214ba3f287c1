package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
)

// lastCallVerdict is the verdict of the session's last recorded call.
func lastCallVerdict(t *testing.T, l *ladder, sid string) string {
	t.Helper()
	evs, _ := l.timeline(t, sid)
	v := ""
	for _, e := range evs {
		if e.Kind == store.KindCall {
			v = e.Verdict
		}
	}
	return v
}

// TestBaselineTransitionAndArguments: an agent that always called echo
// (to two recipients at most) and then pay is learned through warden. In
// a new session, echo after pay, two tools it knows in an order it never
// used, is a new_transition signal; echo to 30 recipients is a
// many_recipients signal; each is on the chain with its evidence and
// weight, and together (10 + 20) they flag the call. In another session,
// echo with an argument it never passed is new_argument_shape.
func TestBaselineTransitionAndArguments(t *testing.T) {
	l := newLadder(t)
	a := &baselineAgent{t: t, l: l, token: opsToken}
	for range supervisor.LearningSessions {
		sid := rawSession(t, nil, l.URL, opsToken, "agent/1")
		a.call(sid, "echo", `{"message":"a","to":["x","y"]}`)
		a.call(sid, "pay", `{"amount":1,"to":"bob"}`)
		a.end(sid)
	}
	raw, err := l.Store.Baseline(context.Background(), "ops")
	if err != nil {
		t.Fatal(err)
	}
	var saved supervisor.Baseline
	if err := json.Unmarshal(raw, &saved); err != nil || saved.ArgsSessions != supervisor.LearningSessions ||
		saved.Args["echo"] == nil || saved.Args["echo"].MaxLen["to"] != 2 || saved.Args["pay"].MaxNumber["amount"] != 1 {
		t.Fatalf("saved baseline %s (%v): want the arguments of %d sessions", raw, err, supervisor.LearningSessions)
	}

	sid := rawSession(t, nil, l.URL, opsToken, "agent/1")
	a.call(sid, "pay", `{"amount":2,"to":"bob"}`)
	if res := a.call(sid, "echo", `{"message":"after pay","to":["x"]}`); !strings.Contains(res, "echo: after pay") {
		t.Fatalf("echo: %s", res)
	}
	sigs := signalsOn(t, l, sid)
	nt, ok := sigs[supervisor.SignalNewTransition]
	if ev := strings.Join(nt.Reasons, " "); !ok || !strings.Contains(ev, "called echo after pay, never seen in that order in 5 sessions") || weightOf(t, nt) != 10 {
		t.Fatalf("new_transition signal %+v (found %v): want evidence naming both tools, weight 10", nt, ok)
	}
	if v := lastCallVerdict(t, l, sid); v != "allow" {
		t.Errorf("echo after new_transition (10) is %s, want allow: under the flag threshold", v)
	}
	recipients := `["` + strings.Repeat(`r","`, 29) + `r"]`
	a.call(sid, "echo", `{"message":"to all","to":`+recipients+`}`)
	sigs = signalsOn(t, l, sid)
	mr, ok := sigs[supervisor.SignalManyRecipients]
	if ev := strings.Join(mr.Reasons, " "); !ok || !strings.Contains(ev, "called echo with 30 elements in to; the most seen in 5 sessions was 2 (limit 10)") || weightOf(t, mr) != 20 {
		t.Fatalf("many_recipients signal %+v (found %v): want the count, the baseline and the limit, weight 20", mr, ok)
	}
	if v := lastCallVerdict(t, l, sid); v != "flag" {
		t.Errorf("echo to 30 recipients is %s, want flag (risk 10 + 20)", v)
	}
	for _, name := range []string{supervisor.SignalNewTool, supervisor.SignalNewArgumentShape, supervisor.SignalLargeAmount} {
		if e, ok := sigs[name]; ok {
			t.Errorf("unexpected %s: %v", name, e.Reasons)
		}
	}

	sid = rawSession(t, nil, l.URL, opsToken, "agent/1")
	a.call(sid, "echo", `{"message":"a","to":["x"],"cc":["y"]}`)
	ns, ok := signalsOn(t, l, sid)[supervisor.SignalNewArgumentShape]
	if ev := strings.Join(ns.Reasons, " "); !ok || !strings.Contains(ev, "{cc:array,message:string,to:array}") ||
		!strings.Contains(ev, "shapes seen: {message:string,to:array}") || weightOf(t, ns) != 10 {
		t.Fatalf("new_argument_shape signal %+v (found %v): want the shape and those seen, weight 10", ns, ok)
	}
}
