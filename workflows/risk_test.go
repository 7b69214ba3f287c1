package workflows

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/warden-dev/warden"
)

// TestRiskIsMonotoneAndDecays: adding a signal never lowers the risk, the
// risk of one signal halves every half-life, and it never goes negative.
func TestRiskIsMonotoneAndDecays(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for range 200 {
		half := time.Duration(1+r.IntN(120)) * time.Minute
		st := State{HalfLife: half}
		now := t0
		for range 1 + r.IntN(40) {
			now = now.Add(time.Duration(r.IntN(600)) * time.Second)
			before := st.Risk(now, half)
			st = st.WithSignal(Signal{Name: "x", Weight: r.Float64() * 50, At: now})
			if after := st.Risk(now, half); after < before-1e-9 || after < 0 {
				t.Fatalf("risk went from %v to %v when a signal was added", before, after)
			}
		}
		one := State{}.WithSignal(Signal{Name: "x", Weight: 40, At: t0})
		for k := range 4 {
			got := one.Risk(t0.Add(time.Duration(k)*half), half)
			if want := 40 / math.Pow(2, float64(k)); math.Abs(got-want) > 1e-9 {
				t.Fatalf("after %d half-lives: %v, want %v", k, got, want)
			}
		}
	}
}

// TestRiskMapsToTheLadder: thresholds raise every call while the risk
// lasts, and decay brings the session back.
func TestRiskMapsToTheLadder(t *testing.T) {
	w, err := Parse("r.yaml", []byte("agent: a\nrisk: {half_life: 10m, flag: 20, step_up: 50, kill: 80}\nanytime: [s]\nsteps:\n  - name: s\n    tool: t\n"))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st := w.Start(SessionInfo{ID: "s", Started: t0})
	cases := []struct {
		signals []float64 // weights, seen at t0
		at      time.Duration
		want    warden.Verdict
	}{
		{nil, 0, warden.Allow},
		{[]float64{30}, 0, warden.Flag},
		{[]float64{30, 30}, 0, warden.StepUp},
		{[]float64{30, 30, 30}, 0, warden.Kill},
		{[]float64{30, 30}, 10 * time.Minute, warden.Flag}, // 60 halved
		{[]float64{30}, 10 * time.Minute, warden.Allow},    // 15
	}
	for _, tc := range cases {
		s := st
		for _, wt := range tc.signals {
			s = s.WithSignal(Signal{Name: "address_changed", Weight: wt, At: t0})
		}
		d, _ := w.Decide(s, Call{Tool: "t"}, t0.Add(tc.at))
		if d.Verdict != tc.want {
			t.Fatalf("signals %v at +%s: %s, want %s (%v)", tc.signals, tc.at, d.Verdict, tc.want, d.Reasons)
		}
		if tc.want != warden.Allow && !strings.Contains(strings.Join(d.Reasons, " "), "session risk") {
			t.Fatalf("reasons %v do not say the risk", d.Reasons)
		}
	}
}

// TestRulesSeeRiskAndSignals: session.risk and signals reach rules.
func TestRulesSeeRiskAndSignals(t *testing.T) {
	w, err := Parse("r.yaml", []byte(`
agent: a
risk: {flag: 0, step_up: 0, kill: 0}
anytime: [s]
steps:
  - name: s
    tool: t
rules:
  - when: "session.risk > 10 && any(signals, .name == 'token_reuse')"
    action: deny
    reason: a reused token may not do this
`))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st := w.Start(SessionInfo{ID: "s", Started: t0}).WithSignal(Signal{Name: "token_reuse", Weight: 40, At: t0})
	if d, _ := w.Decide(st, Call{Tool: "t"}, t0); d.Verdict != warden.Deny {
		t.Fatalf("%s %v", d.Verdict, d.Reasons)
	}
}
