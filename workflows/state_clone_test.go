package workflows

import (
	"reflect"
	"testing"
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
