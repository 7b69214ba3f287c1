package supervisor

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/warden-dev/warden"
	"github.com/warden-dev/warden/workflows"
)

// clockWorkflow decides by the clock: a session lasts at most a minute, and
// a write within 5 seconds of a read steps up.
const clockWorkflow = `
agent: a
budget: {max_duration: 1m, on_exceed: deny}
anytime: [read, write]
steps:
  - name: read
    tool: read
  - name: write
    tool: write
rules:
  - when: "call.tool == 'write' && since('read') < 5"
    action: step_up
    reason: a write right after a read
`

// TestReplayDecidesAtRecordedTimes: a recorded session is decided at the
// times it was recorded at (its start, and each call's), as it was live,
// not on the replay's clock; a trace without times keeps the replay's
// clock of one call a second. The summary says the policy reads the clock.
func TestReplayDecidesAtRecordedTimes(t *testing.T) {
	wf, err := workflows.Parse("clock.yaml", []byte(clockWorkflow))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { x := t0.Add(d); return &x }
	tests := []struct {
		name  string
		trace Trace
		want  []warden.Verdict
	}{
		{"recorded start and calls", Trace{ID: "a", Started: at(0), Calls: []TraceCall{
			{Tool: "read", At: at(10 * time.Second)},
			{Tool: "write", At: at(20 * time.Second)}, // 10s after the read
			{Tool: "write", At: at(2 * time.Minute)},  // past max_duration
		}}, []warden.Verdict{warden.Allow, warden.Allow, warden.Deny}},
		{"started at its first call", Trace{ID: "b", Calls: []TraceCall{
			{Tool: "read", At: at(0)},
			{Tool: "write", At: at(2 * time.Second)}, // 2s after the read
			{Tool: "read", At: at(70 * time.Second)}, // past max_duration
		}}, []warden.Verdict{warden.Allow, warden.StepUp, warden.Deny}},
		{"no recorded times", Trace{ID: "c", Calls: []TraceCall{
			{Tool: "read"},
			{Tool: "write"}, // a second later on the replay's clock
		}}, []warden.Verdict{warden.Allow, warden.StepUp}},
	}
	var trs []Trace
	for _, tt := range tests {
		trs = append(trs, tt.trace)
	}
	sessions, sum, err := ReplayTraces(&Policy{Workflow: wf}, trs, ReplayOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []warden.Verdict
			for _, c := range sessions[i].Calls {
				got = append(got, c.Verdict)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("verdicts %v, want %v (%+v)", got, tt.want, sessions[i].Calls)
			}
		})
	}
	if sum.AtRecordedTimes != 6 {
		t.Errorf("%d calls at their recorded times, want 6", sum.AtRecordedTimes)
	}
	depends := strings.Join(sum.TimeDependent, "\n")
	for _, want := range []string{"budget.max_duration 1m0s", "since('read')"} {
		if !strings.Contains(depends, want) {
			t.Errorf("the summary's time dependence %q does not name %s", sum.TimeDependent, want)
		}
	}
}

// TestReplayPacesAtRecordedTimes: the workflow's throttle (one call a
// second, a burst of one) fills on the recorded clock: a call over the
// rate is held back (throttle) while the wait is within MaxDelay, refused
// beyond it without advancing the session, and a call after a pause is
// allowed, as live.
func TestReplayPacesAtRecordedTimes(t *testing.T) {
	wf, err := workflows.Parse("pace.yaml", []byte("agent: a\nthrottle: {per_minute: 60, burst: 1}\nanytime: [s]\nsteps:\n  - name: s\n    tool: t\n"))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	var calls []TraceCall
	for _, d := range []time.Duration{0, 100, 200, 300, 10000} {
		at := t0.Add(d * time.Millisecond)
		calls = append(calls, TraceCall{Tool: "t", At: &at})
	}
	rs := ReplaySession(&Policy{Workflow: wf}, Trace{ID: "p", Calls: calls}, ReplayOptions{})
	want := []struct {
		v      warden.Verdict
		reason string
	}{
		{warden.Allow, ""},
		{warden.Throttle, "held back 900ms by the rate limit"},
		{warden.Throttle, "held back 1.8s by the rate limit"},
		{warden.Throttle, "rate limit exceeded; retry after 2.7s"},
		{warden.Allow, ""},
	}
	for i, c := range rs.Calls {
		if c.Verdict != want[i].v || !slices.Contains(append(c.Reasons, ""), want[i].reason) {
			t.Errorf("call %d: %s %q, want %s %q", i, c.Verdict, c.Reasons, want[i].v, want[i].reason)
		}
	}
}
