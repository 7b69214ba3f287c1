package supervisor

import (
	"strings"
	"testing"
	"time"

	"github.com/warden-dev/warden"
	"github.com/warden-dev/warden/eval"
)

// rulesPolicy is a policy of rules alone (no workflow).
func rulesPolicy(t *testing.T, src string) *Policy {
	t.Helper()
	rules, err := eval.LoadRules("rules.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return &Policy{Rules: rules}
}

// replayVerdicts replays traces and returns each call's verdict, by session.
func replayVerdicts(t *testing.T, p *Policy, traces string, opts ReplayOptions) (map[string][]warden.Verdict, Summary) {
	t.Helper()
	sessions, sum, err := Replay(p, strings.NewReader(traces), opts)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]warden.Verdict{}
	for _, s := range sessions {
		got[s.ID] = []warden.Verdict{}
		for _, c := range s.Calls {
			got[s.ID] = append(got[s.ID], c.Verdict)
		}
	}
	return got, sum
}

// TestReplayClock: calls are spaced by Interval (1s when unset or not
// positive), from Start, so time-based rules replay as they would live.
func TestReplayClock(t *testing.T) {
	p := rulesPolicy(t, `
rules:
  - {when: "called('tick') && since('tick') < 1", action: flag, reason: same second}
  - {when: "called('tick') && since('tick') >= 60", action: step_up, reason: a minute later}
  - {when: "now.Year() != 2025", action: deny, reason: not the default start}
`)
	const trace = `{"id": "s", "calls": [{"tool": "tick"}, {"tool": "tick"}]}`
	tests := []struct {
		name     string
		interval time.Duration
		want     warden.Verdict // of the second call
	}{
		{"unset", 0, warden.Allow},
		{"negative", -time.Minute, warden.Allow},
		{"a minute", time.Minute, warden.StepUp},
		{"a millisecond", time.Millisecond, warden.Flag},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := replayVerdicts(t, p, trace, ReplayOptions{Interval: tc.interval})
			if v := got["s"]; len(v) != 2 || v[0] != warden.Allow || v[1] != tc.want {
				t.Fatalf("verdicts %v, want [allow %s]", v, tc.want)
			}
			tr, err := ReadTraces(strings.NewReader(trace))
			if err != nil {
				t.Fatal(err)
			}
			rs := ReplaySession(p, tr[0], ReplayOptions{Start: t0, Interval: tc.interval})
			if len(rs.Calls) != 2 || rs.Calls[1].Verdict != tc.want {
				t.Fatalf("ReplaySession: %+v, want the second call %s", rs.Calls, tc.want)
			}
		})
	}
}

// TestReplayObservesWhatProceeds: a call that goes ahead (allow, flag,
// throttle) has its recorded result checked, text or structured; a refused
// one (step_up, deny) has not, since the tool never ran.
func TestReplayObservesWhatProceeds(t *testing.T) {
	p := rulesPolicy(t, `
rules:
  - {when: "call.tool == 'slow'", action: throttle, reason: rate}
  - {when: "call.tool == 'held'", action: step_up, reason: held}
result_rules:
  - {when: "type(result) == 'string' && result == 'SECRET'", action: kill, reason: leak}
  - {when: "type(result) == 'map' && result.k == 'SECRET'", action: kill, reason: structured leak}
  - {when: "type(result) == 'string' && result == 'fyi'", action: allow, reason: noted}
`)
	traces := strings.Join([]string{
		`{"id": "throttled", "calls": [{"tool": "slow", "output": "SECRET"}]}`,
		`{"id": "held", "calls": [{"tool": "held", "output": "SECRET"}]}`,
		`{"id": "structured", "calls": [{"tool": "get", "structured_content": {"k": "SECRET"}}]}`,
		`{"id": "no-result", "calls": [{"tool": "get"}]}`,
	}, "\n")
	got, _ := replayVerdicts(t, p, traces, ReplayOptions{})
	want := map[string][]warden.Verdict{
		"throttled":  {warden.Kill},
		"held":       {warden.StepUp},
		"structured": {warden.Kill},
		"no-result":  {warden.Allow},
	}
	for id, w := range want {
		if g := got[id]; len(g) != len(w) || g[0] != w[0] {
			t.Errorf("%s: verdicts %v, want %v", id, g, w)
		}
	}
	// A result rule that allows still explains itself.
	rs := ReplaySession(p, Trace{ID: "noted", Calls: []TraceCall{{Tool: "get", Output: new("fyi")}}}, ReplayOptions{})
	if len(rs.Calls) != 1 || rs.Calls[0].Verdict != warden.Allow || len(rs.Calls[0].Reasons) != 1 || rs.Calls[0].Reasons[0] != "noted" {
		t.Errorf("noted: %+v, want allow with the reason noted", rs.Calls)
	}
}

// TestReplaySummaryCounts: the summary counts calls by verdict, sessions
// by their strongest verdict, and the sessions of other agents as skipped.
func TestReplaySummaryCounts(t *testing.T) {
	p := rulesPolicy(t, `
rules:
  - {when: "call.tool == 'bad'", action: deny, reason: bad}
  - {when: "call.tool == 'odd'", action: flag, reason: odd}
`)
	traces := strings.Join([]string{
		`{"id": "a", "agent": "shop", "calls": [{"tool": "ok"}, {"tool": "odd"}, {"tool": "bad"}]}`,
		`{"id": "b", "calls": [{"tool": "ok"}, {"tool": "odd"}, {"tool": "odd"}]}`,
		`{"id": "c", "agent": "bank", "calls": [{"tool": "bad"}]}`,
		`{"id": "d", "agent": "bank", "calls": [{"tool": "bad"}]}`,
	}, "\n")
	got, sum := replayVerdicts(t, p, traces, ReplayOptions{Agent: "shop"})
	if _, replayed := got["c"]; replayed || len(got) != 2 {
		t.Fatalf("replayed %v, want only the sessions of shop and of no agent", got)
	}
	wantCalls := map[warden.Verdict]int{warden.Allow: 2, warden.Flag: 3, warden.Deny: 1}
	wantSess := map[warden.Verdict]int{warden.Deny: 1, warden.Flag: 1}
	if sum.Sessions != 2 || sum.Calls != 6 || sum.Skipped != 2 || !equalCounts(sum.ByCall, wantCalls) || !equalCounts(sum.BySess, wantSess) {
		t.Fatalf("summary %+v, want 2 sessions, 6 calls, 2 skipped, by call %v, by session %v", sum, wantCalls, wantSess)
	}
}

func equalCounts(got, want map[warden.Verdict]int) bool {
	for v := warden.Allow; v <= warden.Kill; v++ {
		if got[v] != want[v] {
			return false
		}
	}
	return true
}

// TestReadTracesLines: blank lines (spaces, tabs, CRs) are skipped but
// counted, ids fall back to AgentDojo's task_id then the line number, and
// the agent to its suite.
func TestReadTracesLines(t *testing.T) {
	in := " \t\r\n" +
		`{"task_id": "user_task_3", "suite": "banking", "calls": []}` + "\n" +
		"\t\n" +
		`{"calls": [{"tool": "x"}]}` + "\n"
	trs, err := ReadTraces(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(trs) != 2 {
		t.Fatalf("read %d traces, want 2 (blank lines skipped): %+v", len(trs), trs)
	}
	if trs[0].ID != "user_task_3" || trs[0].Agent != "banking" || trs[0].Line != 2 {
		t.Errorf("first trace %+v, want id user_task_3, agent banking, line 2", trs[0])
	}
	if trs[1].ID != "4" || trs[1].Agent != "" || trs[1].Line != 4 {
		t.Errorf("second trace %+v, want id 4 (its line), no agent", trs[1])
	}
}
