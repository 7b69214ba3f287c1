package supervisor

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/warden-dev/warden/eval"
	"github.com/warden-dev/warden/workflows"
)

// benchRules is 20 rules of the usual shapes (tool tests, argument
// thresholds, history helpers, membership), none of which fires.
func benchRules(b *testing.B) []eval.Rule {
	b.Helper()
	var sb strings.Builder
	sb.WriteString("rules:\n")
	for i := range 20 {
		var when string
		switch i % 4 {
		case 0:
			when = fmt.Sprintf("call.tool == 'tool_%d' && (args.amount ?? 0) > %d", i, 1000+i)
		case 1:
			when = fmt.Sprintf("count('tool_%d') > 50", i)
		case 2:
			when = fmt.Sprintf("call.tool startsWith 'admin_%d' || session.calls > 500", i)
		case 3:
			when = fmt.Sprintf("'blocked_%d' in (vars.payees ?? [])", i)
		}
		fmt.Fprintf(&sb, "  - when: %q\n    action: step_up\n    reason: r%d\n", when, i)
	}
	rules, err := eval.LoadRules("bench.yaml", []byte(sb.String()))
	if err != nil {
		b.Fatal(err)
	}
	return rules
}

// BenchmarkDecide is one decision, warm: a guarded graph step with a
// membership guard plus 20 rules. Target: p50 under 20 µs.
func BenchmarkDecide(b *testing.B) {
	p := examplePolicy(b, "banking", agentdojoTools(b)["banking"])
	p.Rules = benchRules(b)
	st := p.Workflow.Start(workflows.SessionInfo{ID: "b", Started: t0})
	list := workflows.Call{Tool: "get_most_recent_transactions", Args: map[string]any{"n": 100.0}}
	d, st := p.Decide(st, list, t0)
	listed := "- recipient: DE001\n  sender: me\n  amount: 1.0\n- recipient: DE002\n  sender: me\n"
	_, st = p.Observe(st, d.Steps, list, workflows.Result{Text: listed}, t0)
	prov := eval.NewProvenance("", nil) // the example workflow reads where the recipient came from
	prov.Observe(list.Tool, nil, listed)
	call := workflows.Call{Tool: "send_money", Provenance: prov, Args: map[string]any{"recipient": "DE002", "amount": 10.0, "subject": "x", "date": "2025-01-01"}}
	benchDecision(b, p, st, call)
}

// BenchmarkDecideWithProvenance is BenchmarkDecide with provenance: the
// payment is an effect call whose every argument is looked up in a
// session that has been handed 20 results of AgentDojo's size. Target:
// p50 under 20 µs.
func BenchmarkDecideWithProvenance(b *testing.B) {
	p := examplePolicy(b, "banking", agentdojoTools(b)["banking"])
	p.Rules = benchRules(b)
	wf, err := workflows.Parse("bench.yaml", []byte(`
agent: banking
effects: [send_money]
anytime: [list, pay]
steps:
  - name: list
    tool: get_most_recent_transactions
  - name: pay
    tool: send_money
    trusted_sources:
      recipient: [intent, "result:get_most_recent_transactions.recipient"]
`))
	if err != nil {
		b.Fatal(err)
	}
	p.Workflow = wf
	prov := eval.NewProvenance("Pay my rent of 1100 to the landlord, as every month", nil)
	for i := range 20 {
		prov.Observe("get_most_recent_transactions", nil, fmt.Sprintf(
			"- id: %d\n  recipient: DE%03d\n  sender: me\n  amount: %d.0\n  subject: 'Spotify Premium, month %d of the plan'\n  date: '2022-03-%02d'\n  recurring: false\n", i, i, 10+i, i, 1+i%28))
	}
	st := p.Workflow.Start(workflows.SessionInfo{ID: "b", Started: t0})
	call := workflows.Call{Tool: "send_money", Provenance: prov,
		Args: map[string]any{"recipient": "DE007", "amount": 1100.0, "subject": "rent for this month as every month", "date": "2025-01-01"}}
	benchDecision(b, p, st, call)
}

// BenchmarkDecideWithRisk is BenchmarkDecide in a session carrying the
// most signals a state keeps (32), under every threshold: the risk is
// summed, and the signals handed to the rules, on every call. Target: p50
// under 20 µs.
func BenchmarkDecideWithRisk(b *testing.B) {
	p := examplePolicy(b, "banking", agentdojoTools(b)["banking"])
	p.Rules = benchRules(b)
	st := p.Workflow.Start(workflows.SessionInfo{ID: "b", Started: t0})
	list := workflows.Call{Tool: "get_most_recent_transactions", Args: map[string]any{"n": 100.0}}
	d, st := p.Decide(st, list, t0)
	listed := "- recipient: DE001\n  sender: me\n  amount: 1.0\n- recipient: DE002\n  sender: me\n"
	_, st = p.Observe(st, d.Steps, list, workflows.Result{Text: listed}, t0)
	prov := eval.NewProvenance("", nil) // the example workflow reads where the recipient came from
	prov.Observe(list.Tool, nil, listed)
	for i := range 32 {
		st = st.WithSignal(workflows.Signal{Name: "address_changed", Weight: 0.5, At: t0.Add(time.Duration(i) * time.Second), Evidence: "x"})
	}
	call := workflows.Call{Tool: "send_money", Provenance: prov, Args: map[string]any{"recipient": "DE002", "amount": 10.0, "subject": "x", "date": "2025-01-01"}}
	benchDecision(b, p, st, call)
}

// benchDecision times p's decision on call in state st, a minute after
// t0, and reports p50 and p99; the call must be allowed.
func benchDecision(b *testing.B, p *Policy, st workflows.State, call workflows.Call) {
	b.Helper()
	now := t0.Add(time.Minute)
	durs := make([]time.Duration, 0, 1<<16)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		d, _ := p.Decide(st, call, now)
		if len(durs) < cap(durs) {
			durs = append(durs, time.Since(start))
		}
		if d.Verdict != 0 {
			b.Fatalf("verdict %s %q", d.Verdict, d.Reasons)
		}
	}
	slices.Sort(durs)
	b.ReportMetric(float64(durs[len(durs)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(durs[len(durs)*99/100].Nanoseconds()), "p99-ns")
}
