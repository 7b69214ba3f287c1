package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
)

// baselineAgent drives one agent's sessions over real HTTP.
type baselineAgent struct {
	t     *testing.T
	l     *ladder
	token string
	id    int
}

func (a *baselineAgent) call(sid, tool, args string) string {
	a.t.Helper()
	a.id++
	st, res, _, err := ladderPost(nil, a.l.URL, a.token, sid, toolCallBody(a.id, tool, args), map[string]string{"User-Agent": "agent/1"})
	if err != nil || st != http.StatusOK {
		a.t.Fatalf("%s: %d %s %v", tool, st, res, err)
	}
	return res
}

// end closes the session as its client does (DELETE) and waits until its
// end is on record.
func (a *baselineAgent) end(sid string) {
	a.t.Helper()
	req, err := http.NewRequest(http.MethodDelete, a.l.URL, http.NoBody)
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Mcp-Session-Id", sid)
	req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
	req.Header.Set("User-Agent", "agent/1") // as its client: another would be a change of hands, which weighs on the agent
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	res.Body.Close()
	waitFor(a.t, 10*time.Second, "session "+sid+" ended on record", func() bool {
		s, err := a.l.Store.Session(context.Background(), sid)
		return err == nil && s.State == store.StateEnded
	})
}

// signalsOn returns the session's recorded signals by name: the event's
// verdict, the signal's weight and its evidence.
func signalsOn(t *testing.T, l *ladder, sid string) map[string]store.Event {
	t.Helper()
	evs, _ := l.timeline(t, sid)
	out := map[string]store.Event{}
	for _, e := range evs {
		var d struct {
			Signal *struct{ Name string } `json:"signal"`
		}
		if e.Kind == store.KindSignal && json.Unmarshal(e.Data, &d) == nil && d.Signal != nil {
			out[d.Signal.Name] = e
		}
	}
	return out
}

func weightOf(t *testing.T, e store.Event) float64 {
	t.Helper()
	var d struct{ Signal struct{ Weight float64 } }
	if err := json.Unmarshal(e.Data, &d); err != nil {
		t.Fatal(err)
	}
	return d.Signal.Weight
}

// TestBaselineSignals: an agent with a recorded history (sessions made
// through warden with real calls) is learned; in a new session, a burst
// of calls beyond anything it did is a burst signal, and a tool it never
// called is a new_tool signal, each on the chain with its evidence; their
// weights (30 + 15) flag the calls after them; a result far larger than
// any before is a large_result signal. The baseline is saved in the store.
func TestBaselineSignals(t *testing.T) {
	l := newLadder(t)
	a := &baselineAgent{t: t, l: l, token: opsToken}
	for range supervisor.LearningSessions {
		sid := rawSession(t, nil, l.URL, opsToken, "agent/1")
		a.call(sid, "echo", `{"message":"a"}`)
		a.call(sid, "echo", `{"message":"b"}`)
		a.end(sid)
	}
	raw, err := l.Store.Baseline(context.Background(), "ops")
	if err != nil {
		t.Fatal(err)
	}
	var saved supervisor.Baseline
	if err := json.Unmarshal(raw, &saved); err != nil || saved.Sessions != supervisor.LearningSessions || saved.Tools["echo"] != 2*supervisor.LearningSessions {
		t.Fatalf("saved baseline %s (%v): want %d sessions of 2 echo calls", raw, err, supervisor.LearningSessions)
	}

	sid := rawSession(t, nil, l.URL, opsToken, "agent/1")
	for i := range 11 { // the most in a minute was 2; the limit is 10
		a.call(sid, "echo", fmt.Sprintf(`{"message":"%d"}`, i))
	}
	if res := a.call(sid, "pay", `{"amount":1,"to":"bob"}`); !strings.Contains(res, "paid 1 to bob") {
		t.Fatalf("pay: %s", res)
	}
	sigs := signalsOn(t, l, sid)
	burst, nt := sigs[supervisor.SignalBurst], sigs[supervisor.SignalNewTool]
	if !strings.Contains(strings.Join(burst.Reasons, " "), "11 calls in the last minute") || weightOf(t, burst) != 30 {
		t.Errorf("burst signal %+v: want its evidence and weight 30", burst)
	}
	if ev := strings.Join(nt.Reasons, " "); !strings.Contains(ev, "called pay, never seen in 5 sessions") || !strings.Contains(ev, "echo") || weightOf(t, nt) != 15 {
		t.Errorf("new_tool signal %+v: want evidence naming pay and the tools seen, weight 15", nt)
	}
	_, tl := l.timeline(t, sid)
	got := strings.Join(tl, " ")
	if !strings.Contains(got, "signal call:echo:flag") || !strings.Contains(got, "signal call:pay:flag") {
		t.Fatalf("timeline %s: want the 11th echo flagged after the burst, and pay after new_tool", got)
	}
	if n := strings.Count(got, "signal"); n != len(sigs) {
		t.Errorf("%d signal events for %d distinct signals: each is raised once a session", n, len(sigs))
	}

	// In another session, a result far larger than any before is
	// large_result, raised after it was handed over (it weighs on the
	// calls after it).
	sid = rawSession(t, nil, l.URL, opsToken, "agent/1")
	if res := a.call(sid, "echo", fmt.Sprintf(`{"message":%q}`, strings.Repeat("x", 8000))); !strings.Contains(res, "xxxx") {
		t.Fatalf("large echo: %.200s", res)
	}
	lr, ok := signalsOn(t, l, sid)[supervisor.SignalLargeResult]
	if !ok || !strings.Contains(strings.Join(lr.Reasons, " "), "echo returned") || weightOf(t, lr) != 20 {
		t.Errorf("large_result signal %+v (found %v): want its evidence and weight 20", lr, ok)
	}
}

// TestBaselineLearningOnlyFlags: while an agent's baseline is learning
// (fewer than LearningSessions sessions), a never-seen tool is recorded
// as a flag that weighs nothing.
func TestBaselineLearningOnlyFlags(t *testing.T) {
	l := newLadder(t)
	a := &baselineAgent{t: t, l: l, token: otherToken}
	sid := rawSession(t, nil, l.URL, otherToken, "agent/1")
	a.call(sid, "echo", `{"message":"a"}`)
	a.end(sid)
	sid = rawSession(t, nil, l.URL, otherToken, "agent/1")
	a.call(sid, "pay", `{"amount":1,"to":"bob"}`)
	nt, ok := signalsOn(t, l, sid)[supervisor.SignalNewTool]
	if !ok || nt.Verdict != "flag" || weightOf(t, nt) != 0 || !strings.Contains(strings.Join(nt.Reasons, " "), "baseline learning (1 of 5 sessions)") {
		t.Fatalf("new_tool while learning: %+v (found %v), want a flag of weight 0 saying so", nt, ok)
	}
}

// TestBaselineConcurrentSessions: sessions of one agent calling and
// ending at once are each folded into its baseline exactly once.
func TestBaselineConcurrentSessions(t *testing.T) {
	l := newLadder(t)
	const sessions, calls = 6, 3
	done := make(chan struct{}, sessions)
	for i := range sessions {
		go func() {
			defer func() { done <- struct{}{} }() // also when a call fails the test (Goexit)
			a := &baselineAgent{t: t, l: l, token: opsToken, id: 100 * i}
			sid := rawSession(t, nil, l.URL, opsToken, "agent/1")
			for range calls {
				a.call(sid, "echo", `{"message":"x"}`)
			}
			a.end(sid)
		}()
	}
	for range sessions {
		<-done
	}
	raw, err := l.Store.Baseline(context.Background(), "ops")
	if err != nil {
		t.Fatal(err)
	}
	var b supervisor.Baseline
	if err := json.Unmarshal(raw, &b); err != nil || b.Sessions != sessions || b.Calls != sessions*calls || b.Transitions["echo -> echo"] != sessions*(calls-1) {
		t.Fatalf("saved baseline %s (%v): want %d sessions, %d calls", raw, err, sessions, sessions*calls)
	}
}
