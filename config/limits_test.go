package config

import (
	"reflect"
	"testing"
	"time"
)

func TestParseLimits(t *testing.T) {
	cases := []struct {
		name    string
		src     string
		limits  Limits
		budgets []Budget
	}{
		{"defaults", minimal, Limits{SessionsPerAgent: 100, Initialize: Rate{PerMinute: 600, Burst: 20}, PendingPerSession: 10, PendingPerAgent: 50}, nil},
		{"set", minimal + "    budgets: [{tools: \"refund_*\", max: 20, per: 24h}, {tools: pay, max: 3, per: 1h}]\n" +
			"limits: {sessions_per_agent: 5, initialize: {per_minute: 60, burst: 2}, pending_approvals_per_session: 1, pending_approvals_per_agent: 3}\n",
			Limits{SessionsPerAgent: 5, Initialize: Rate{PerMinute: 60, Burst: 2}, PendingPerSession: 1, PendingPerAgent: 3},
			[]Budget{{Tools: "refund_*", Max: 20, Per: 24 * time.Hour}, {Tools: "pay", Max: 3, Per: time.Hour}}},
		{"null keeps the default", minimal + "limits: {sessions_per_agent: null}\n",
			Limits{SessionsPerAgent: 100, Initialize: Rate{PerMinute: 600, Burst: 20}, PendingPerSession: 10, PendingPerAgent: 50}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Parse("w.yaml", fix(c.src), noEnv)
			if err != nil {
				t.Fatal(err)
			}
			if *cfg.Limits != c.limits {
				t.Errorf("limits = %+v, want %+v", *cfg.Limits, c.limits)
			}
			if !reflect.DeepEqual(cfg.Agents[0].Budgets, c.budgets) {
				t.Errorf("budgets = %+v, want %+v", cfg.Agents[0].Budgets, c.budgets)
			}
		})
	}
}

func TestParseLimitsErrors(t *testing.T) {
	cases := []struct {
		name  string
		src   string
		wants []want
	}{
		{"zero sessions", minimal + "limits: {sessions_per_agent: 0}\n", []want{{7, 30, "limits.sessions_per_agent must be between 1 and"}}},
		{"pending not a number", minimal + "limits: {pending_approvals_per_agent: many}\n", []want{{7, 39, "limits.pending_approvals_per_agent must be an integer"}}},
		{"initialize without burst", minimal + "limits: {initialize: {per_minute: 60}}\n", []want{{7, 22, "limits.initialize needs per_minute"}}},
		{"unknown field", minimal + "limits: {sessions: 3}\n", []want{{7, 10, `unknown field "sessions" in limits`}}},
		{"budget incomplete", minimal + "    budgets: [{tools: pay, max: 3}]\n", []want{{7, 15, `agents[0].budgets[0] needs tools`}}},
		{"budget bad window", minimal + "    budgets: [{tools: pay, max: 3, per: 3}]\n", []want{{7, 15, "needs tools"}, {7, 41, "agents[0].budgets[0].per 3 needs a unit"}}},
		{"budget bad glob", minimal + "    budgets: [{tools: \"p[\", max: 3, per: 1h}]\n", []want{{7, 23, "not a valid glob pattern"}}},
		{"budgets not a list", minimal + "    budgets: {tools: pay}\n", []want{{7, 14, "budgets must be a list"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mustFail(t, fix(c.src), noEnv, c.wants...)
		})
	}
}
