package workflows

import (
	"reflect"
	"testing"
	"time"

	"github.com/warden-dev/warden"
)

// TestHistoryHelpers: called, count, last and since see the session's
// earlier calls, as documented, and nothing for a tool never called.
func TestHistoryHelpers(t *testing.T) {
	w := parseTest(t, `
start: [a]
steps:
  - {name: a, next: [a, probe]}
  - {name: probe, next: [a, probe]}
rules:
  - {when: "called('a')", action: flag, reason: called a}
  - {when: "called('b')", action: flag, reason: called b}
  - {when: "count('a') == 1 && count('b') == 0", action: flag, reason: counts}
  - {when: "called('a') && last('a').args.x == 1 && last('a').result == 'r1'", action: flag, reason: last a}
  - {when: "last('b') == nil", action: flag, reason: no last b}
  - {when: "since('a') == 30", action: flag, reason: since a}
  - {when: "since('b') > 1e300", action: flag, reason: since b is huge}
`)
	st := w.Start(SessionInfo{ID: "s", Started: t0})
	call := Call{Tool: "a", Args: map[string]any{"x": 1.0}}
	d, st := w.Decide(st, call, t0)
	if d.Verdict > warden.Throttle {
		t.Fatalf("first call: %s %q", d.Verdict, d.Reasons)
	}
	_, st = w.Observe(st, d.Steps, call, Result{Text: "r1"}, t0)
	d, _ = w.Decide(st, Call{Tool: "probe"}, t0.Add(30*time.Second))
	want := []string{"called a", "counts", "last a", "no last b", "since a", "since b is huge"}
	if d.Verdict != warden.Flag || !reflect.DeepEqual(d.Reasons, want) {
		t.Fatalf("probe: %s %q, want flag %q", d.Verdict, d.Reasons, want)
	}
}
