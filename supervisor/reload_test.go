package supervisor

import (
	"testing"
	"time"
)

// TestReloadKeepsWhatWasSpent lowers an agent's budget and its agents'
// rate by reload: the new values apply to the next call, and the calls
// made before still count, so a reload is no way to reset either.
func TestReloadKeepsWhatWasSpent(t *testing.T) {
	budget := func(max int) Limits {
		return Limits{Budgets: map[string][]Budget{"ops": {{Tools: "pay*", Max: max, Per: time.Hour}}}}
	}
	cases := []struct {
		name                 string
		max, burst           int
		wantBudget, wantRate int // calls still allowed after the reload
	}{
		{name: "unchanged", max: 4, burst: 4, wantBudget: 2, wantRate: 2},
		{name: "lowered", max: 3, burst: 3, wantBudget: 1, wantRate: 2},              // fresh ones would allow 3 and 3
		{name: "below what was spent", max: 1, burst: 1, wantBudget: 0, wantRate: 1}, // a bucket keeps at most its burst
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rate := func(burst int) Rate { return Rate{PerMinute: 0.001, Burst: burst} }
			sup, _ := startTestSupervisor(t, nil, func(o *Options) {
				o.Limits = budget(4)
				o.Escalation.AgentRate = rate(4)
			})
			for range 2 {
				sp, err := sup.spendBudget("ops", "pay")
				if err != nil {
					t.Fatal(err)
				}
				sp.keep()
				if !sup.agentLimiter("ops").Allow() {
					t.Fatal("the agent's bucket refused a call within its burst")
				}
			}
			_, err := sup.Reload(t.Context(), Reloaded{Agents: sup.opts.Agents, Limits: budget(c.max), Escalation: Escalation{AgentRate: rate(c.burst)}})
			if err != nil {
				t.Fatal(err)
			}
			spent, allowed := 0, 0
			for range 5 {
				if sp, err := sup.spendBudget("ops", "pay"); err == nil {
					sp.keep()
					spent++
				}
				if sup.agentLimiter("ops").Allow() {
					allowed++
				}
			}
			if spent != c.wantBudget || allowed != c.wantRate {
				t.Errorf("after the reload %d budgeted calls and %d paced calls went ahead, want %d and %d", spent, allowed, c.wantBudget, c.wantRate)
			}
		})
	}
}
