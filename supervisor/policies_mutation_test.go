package supervisor

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/tools"
	"github.com/warden-dev/warden/workflows"
)

// flagEverything is a rules file that flags every call.
const flagEverything = "rules:\n  - {when: \"true\", action: flag}\n"

// TestPolicyEmpty: only a policy with neither a workflow nor rules has
// nothing to decide with.
func TestPolicyEmpty(t *testing.T) {
	w, err := workflows.Parse("w.yaml", []byte("start: [a]\nsteps:\n  - {name: a, next: [a]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	rules := rulesPolicy(t, flagEverything).Rules
	tests := []struct {
		name string
		p    Policy
		want bool
	}{
		{"nothing", Policy{}, true},
		{"workflow", Policy{Workflow: w}, false},
		{"rules", Policy{Rules: rules}, false},
		{"both", Policy{Workflow: w, Rules: rules}, false},
	}
	for _, tc := range tests {
		if got := tc.p.empty(); got != tc.want {
			t.Errorf("%s: empty() = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestSetPoliciesReplacesWhole: each agent gets the policy it was given;
// an agent left out of a reload (or of a nil map) has none, and is decided
// by an empty policy rather than a nil one.
func TestSetPoliciesReplacesWhole(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "warden.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	hub, err := tools.NewHub(nil, tools.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hub.Close() })
	a, b := rulesPolicy(t, flagEverything), rulesPolicy(t, flagEverything)
	sup, err := New(Options{Hub: hub, Store: db, Policies: map[string]*Policy{"a": a}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sup.Close(context.Background()) })

	check := func(step string, want map[string]*Policy) {
		t.Helper()
		for _, agent := range []string{"a", "b"} {
			got := sup.policyFor(agent)
			if w := want[agent]; w != nil && got != w {
				t.Errorf("%s: agent %s has the wrong policy", step, agent)
			}
			if want[agent] == nil && (got == nil || !got.empty()) {
				t.Errorf("%s: agent %s has policy %+v, want an empty one", step, agent, got)
			}
		}
	}
	check("at start", map[string]*Policy{"a": a})
	sup.SetPolicies(map[string]*Policy{"b": b})
	check("after reload with b", map[string]*Policy{"b": b})
	sup.SetPolicies(nil)
	check("after reload with none", map[string]*Policy{})
}
