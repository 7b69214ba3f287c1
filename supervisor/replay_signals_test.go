package supervisor

import (
	"testing"
	"time"

	"github.com/warden-dev/warden"
	"github.com/warden-dev/warden/workflows"
)

// TestReplayGivesTheRecordedRisk: a trace's recorded signals and call
// times give the same risk, and so the same verdicts, as live traffic.
func TestReplayGivesTheRecordedRisk(t *testing.T) {
	wf, err := workflows.Parse("r.yaml", []byte("agent: a\nrisk: {half_life: 10m}\nanytime: [s]\nsteps:\n  - name: s\n    tool: t\n"))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { x := t0.Add(d); return &x }
	tr := Trace{ID: "s", Agent: "a",
		Signals: []TraceSignal{{Before: 1, Signal: workflows.Signal{Name: "token_reuse", Weight: 60, At: t0}}},
		Calls: []TraceCall{
			{Tool: "t", At: at(0)},                // before the signal
			{Tool: "t", At: at(time.Second)},      // 60: step_up
			{Tool: "t", At: at(10 * time.Minute)}, // 30: flag
			{Tool: "t", At: at(30 * time.Minute)}, // 7.5: allow
		}}
	rs := ReplaySession(&Policy{Workflow: wf}, tr, ReplayOptions{ApproveStepUps: true})
	want := []warden.Verdict{warden.Allow, warden.StepUp, warden.Flag, warden.Allow}
	for i, c := range rs.Calls {
		if c.Verdict != want[i] {
			t.Fatalf("call %d: %s, want %s (%v)", i, c.Verdict, want[i], c.Reasons)
		}
	}
}
