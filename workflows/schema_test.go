package workflows

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestSchemaMatchesFormat keeps docs/workflow.schema.json in step with the
// fields the loader reads.
func TestSchemaMatchesFormat(t *testing.T) {
	raw, err := os.ReadFile("../docs/workflow.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Properties map[string]json.RawMessage `json:"properties"`
		Defs       struct {
			Step struct {
				Properties map[string]struct {
					Items struct {
						Properties map[string]any `json:"properties"`
					} `json:"items"`
				} `json:"properties"`
			} `json:"step"`
			Rule struct {
				Properties map[string]any `json:"properties"`
			} `json:"rule"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	check := func(what string, typ reflect.Type, have []string) {
		t.Helper()
		var want []string
		for i := range typ.NumField() {
			if tag := strings.Split(typ.Field(i).Tag.Get("yaml"), ",")[0]; tag != "" && tag != "-" {
				want = append(want, tag)
			}
		}
		slices.Sort(want)
		slices.Sort(have)
		if !slices.Equal(want, have) {
			t.Errorf("%s: schema has %v, loader reads %v", what, have, want)
		}
	}
	var throttle struct {
		Properties map[string]any `json:"properties"`
	}
	if err := json.Unmarshal(schema.Properties["throttle"], &throttle); err != nil {
		t.Fatalf("schema throttle: %v", err)
	}
	var top, step, bind, rule, thr []string
	for k := range throttle.Properties {
		thr = append(thr, k)
	}
	for k := range schema.Properties {
		top = append(top, k)
	}
	for k := range schema.Defs.Step.Properties {
		step = append(step, k)
	}
	for k := range schema.Defs.Step.Properties["bind"].Items.Properties {
		bind = append(bind, k)
	}
	for k := range schema.Defs.Rule.Properties {
		rule = append(rule, k)
	}
	check("workflow", reflect.TypeOf(fileSpec{}), top)
	check("step", reflect.TypeOf(stepSpec{}), step)
	check("binding", reflect.TypeOf(bindSpec{}), bind)
	check("throttle", reflect.TypeOf(throttleSpec{}), thr)
	if !slices.Equal(sorted(rule), []string{"action", "name", "reason", "when"}) {
		t.Errorf("rule: schema has %v", rule)
	}
}

func sorted(s []string) []string { slices.Sort(s); return s }
