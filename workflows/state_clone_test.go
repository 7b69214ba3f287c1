package workflows

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/warden-dev/warden"
)

// sameMap reports whether two maps are the one map.
func sameMap(a, b map[string]any) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

// TestStateCloneSharesVarsUntilWritten: a state's clone shares its Vars
// until a binding writes one (most calls bind nothing, and copying the
// variables per call was most of a clone), and a binding's write never
// shows in the state it was decided from, which refused calls keep.
func TestStateCloneSharesVarsUntilWritten(t *testing.T) {
	w := loadTestdata(t, "refund.yaml")
	st := runScript(t, w, []scripted{
		{tool: "crm_find", result: `[{"id": "c1"}]`},
	})
	before := st.Vars["customers"]
	if before == nil {
		t.Fatal("the script bound no customers")
	}
	tests := []struct {
		name   string
		tool   string
		result string
		shared bool // the next state's Vars still the map of st
	}{
		{"a call that binds nothing", "kb_search", "", true},
		{"a result binding", "crm_find", `[{"id": "c2"}]`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			call := Call{Tool: tt.tool}
			d, next := w.Decide(st, call, t0)
			if tt.result != "" {
				_, next = w.Observe(next, d.Steps, call, Result{Text: tt.result}, t0)
			}
			if got := sameMap(next.Vars, st.Vars); got != tt.shared {
				t.Errorf("next state shares the variables: %v, want %v", got, tt.shared)
			}
			if !reflect.DeepEqual(st.Vars["customers"], before) {
				t.Errorf("the earlier state's customers changed to %v", st.Vars["customers"])
			}
			if !tt.shared && reflect.DeepEqual(next.Vars["customers"], before) {
				t.Errorf("the binding did not add to customers: %v", next.Vars["customers"])
			}
		})
	}
}

// sameCounts reports whether two step-count maps are the one map.
func sameCounts(a, b map[string]int) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

// TestObserveClonesOnlyWhatItWrites: Observe's state shares the step
// counts of the state it was given (it never writes them; Decide and
// Observe used to copy every map, twice per call), and every state of a
// session, as recorded after its call, is unchanged by the calls after
// it, refused ones included.
func TestObserveClonesOnlyWhatItWrites(t *testing.T) {
	w := loadTestdata(t, "refund.yaml")
	script := []struct {
		call   Call
		result string
	}{
		{Call{Tool: "crm_find"}, `[{"id": "c1"}]`},
		{Call{Tool: "kb_search"}, "an answer"},
		{Call{Tool: "orders_get", Args: map[string]any{"customer": "c1"}}, `{"customer": "c1"}`},
		{Call{Tool: "orders_get", Args: map[string]any{"customer": "c9"}}, ""}, // refused: no such customer
		{Call{Tool: "orders_get", Args: map[string]any{"customer": "c1"}}, `{"customer": "c1"}`},
		{Call{Tool: "payments_refund", Args: map[string]any{"customer": "c1", "amount": 20}}, "done"},
	}
	st := w.Start(SessionInfo{ID: "s1", Agent: "support", Started: t0})
	var states []State
	var recorded []string
	for i, c := range script {
		now := t0.Add(time.Duration(i) * time.Second)
		d, next := w.Decide(st, c.call, now)
		if d.Verdict <= warden.Throttle && c.result != "" {
			var observed State
			_, observed = w.Observe(next, d.Steps, c.call, Result{Text: c.result}, now)
			if !sameCounts(observed.StepCounts, next.StepCounts) {
				t.Errorf("call %d %s: Observe copied the step counts", i, c.call.Tool)
			}
			next = observed
		}
		st = next
		b, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		states, recorded = append(states, st), append(recorded, string(b))
	}
	if st.StepCounts["lookup_order"] != 2 || st.StepCounts["refund"] != 1 {
		t.Fatalf("step counts %v, want lookup_order 2 and refund 1", st.StepCounts)
	}
	for i, s := range states {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != recorded[i] {
			t.Errorf("state after call %d changed later:\n was %s\n now %s", i, recorded[i], b)
		}
	}
}
