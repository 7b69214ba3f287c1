package workflows

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/warden-dev/warden"
)

// ladderFlow has a throttle and steps with and without approval_timeout;
// both "pay" steps take the same tool, so a call can match two at once.
const ladderFlow = `agent: payer
throttle: {per_minute: 2.5, burst: 3}
start: [lookup]
steps:
  - name: lookup
    tool: find
    next: [pay_small, pay_big]
  - name: pay_small
    tool: pay
    guard: "args.amount <= 10"
    approval_timeout: 30s
    next: [lookup]
  - name: pay_big
    tool: pay
    guard: "args.amount <= 1000"
    approval_timeout: 5m
    next: [lookup]
  - name: audit
    tool: audit_log
    approval_timeout: 10m
    next: [lookup]
anytime: [audit]
`

func TestWorkflowThrottle(t *testing.T) {
	w, err := Parse("w.yaml", []byte(ladderFlow))
	if err != nil {
		t.Fatal(err)
	}
	if pm, b, ok := w.Throttle(); !ok || pm != 2.5 || b != 3 {
		t.Fatalf("Throttle() = %v, %v, %v; want 2.5, 3, true", pm, b, ok)
	}
	plain, err := Parse("w.yaml", []byte(strings.Replace(ladderFlow, "throttle: {per_minute: 2.5, burst: 3}\n", "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if pm, b, ok := plain.Throttle(); ok || pm != 0 || b != 0 {
		t.Fatalf("Throttle() without throttle = %v, %v, %v; want none", pm, b, ok)
	}
	var none *Workflow
	if _, _, ok := none.Throttle(); ok {
		t.Fatal("a nil workflow has a throttle")
	}
}

func TestDecisionApprovalTimeout(t *testing.T) {
	w, err := Parse("w.yaml", []byte(ladderFlow))
	if err != nil {
		t.Fatal(err)
	}
	atLookup := func() State {
		_, st := w.Decide(w.Start(SessionInfo{Started: t0}), Call{Tool: "find"}, t0)
		return st
	}
	cases := []struct {
		name    string
		st      State
		call    Call
		verdict warden.Verdict
		want    time.Duration
	}{
		{"matched step without one", w.Start(SessionInfo{Started: t0}), Call{Tool: "find"}, warden.Allow, 0},
		{"one step matched", atLookup(), Call{Tool: "pay", Args: map[string]any{"amount": 500.0}}, warden.Allow, 5 * time.Minute},
		{"two steps matched: the longest", atLookup(), Call{Tool: "pay", Args: map[string]any{"amount": 5.0}}, warden.Allow, 5 * time.Minute},
		{"guards refuse: the steps it would take", atLookup(), Call{Tool: "pay", Args: map[string]any{"amount": 5000.0}}, warden.StepUp, 5 * time.Minute},
		{"out of order: the step elsewhere", w.Start(SessionInfo{Started: t0}), Call{Tool: "pay", Args: map[string]any{"amount": 5.0}}, warden.StepUp, 5 * time.Minute},
		{"anytime step", w.Start(SessionInfo{Started: t0}), Call{Tool: "audit_log"}, warden.Allow, 10 * time.Minute},
		{"tool in no step: the default", atLookup(), Call{Tool: "delete_all"}, warden.StepUp, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, _ := w.Decide(c.st, c.call, t0)
			if d.Verdict != c.verdict || d.ApprovalTimeout != c.want {
				t.Fatalf("verdict %s, approval timeout %v (steps %v, reasons %q); want %s, %v", d.Verdict, d.ApprovalTimeout, d.Steps, d.Reasons, c.verdict, c.want)
			}
		})
	}
}

func TestLadderLoadErrors(t *testing.T) {
	flow := func(throttle, approval string) string {
		return "start: [a]\n" + throttle + "steps:\n  - name: a\n    next: [a]\n" + approval
	}
	cases := []struct {
		name string
		src  string
		want string
	}{
		{"throttle rate zero", flow("throttle: {per_minute: 0, burst: 1}\n", ""), `w.yaml:2:24: throttle.per_minute "0" is not a positive number`},
		{"throttle rate text", flow("throttle: {per_minute: fast, burst: 1}\n", ""), `w.yaml:2:24: throttle.per_minute "fast"`},
		{"throttle rate infinite", flow("throttle: {per_minute: .inf, burst: 1}\n", ""), `w.yaml:2:24: throttle.per_minute "+Inf" is not a positive number`},
		{"throttle burst zero", flow("throttle: {per_minute: 5, burst: 0}\n", ""), `w.yaml:2:34: throttle.burst "0" is not a whole number between 1 and 1000000`},
		{"throttle burst fraction", flow("throttle: {per_minute: 5, burst: 1.5}\n", ""), `w.yaml:2:34: throttle.burst "1.5"`},
		{"throttle missing burst", flow("throttle:\n  per_minute: 5\n", ""), "w.yaml:3:3: throttle needs per_minute"},
		{"throttle unknown field", flow("throttle: {per_minute: 5, burst: 1, rate: 3}\n", ""), `w.yaml:2:37: unknown field "rate"`},
		{"throttle not a mapping", flow("throttle: 5\n", ""), "w.yaml:2:11:"},
		{"approval_timeout text", flow("", "    approval_timeout: soon\n"), `w.yaml:5:23: step "a": approval_timeout "soon" is not a positive duration`},
		{"approval_timeout negative", flow("", "    approval_timeout: -1m\n"), `w.yaml:5:23: step "a": approval_timeout "-1m"`},
		{"approval_timeout without unit", flow("", "    approval_timeout: 30\n"), `w.yaml:5:23: step "a": approval_timeout "30"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("w.yaml", []byte(c.src))
			var es Errors
			if !errors.As(err, &es) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error:\n%v\nwant it to contain:\n%s", err, c.want)
			}
		})
	}
}
