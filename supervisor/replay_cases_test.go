package supervisor

import (
	"strings"
	"testing"

	"github.com/warden-dev/warden"
)

func TestReadReplayCasesRefusesBrokenCases(t *testing.T) {
	good := `{"id":"ok","calls":[{"tool":"a","want":"allow"}]}`
	tests := []struct {
		name, line, want string
	}{
		{"not JSON", `{"id":`, "cases.jsonl:3: unexpected end of JSON input"},
		{"no tool", `{"calls":[{"want":"allow"}]}`, "cases.jsonl:3: call 1 has no tool"},
		{"unknown verdict", `{"calls":[{"tool":"a","want":"alow"}]}`, `cases.jsonl:3: call 1 (a): want: unknown verdict "alow"`},
		{"verdict not a string", `{"calls":[{"tool":"a","want_at_most":3}]}`, "cases.jsonl:3: call 1 (a): want_at_most: want a verdict's name, got 3"},
		{"misspelt key", `{"calls":[{"tool":"a","want_at_lest":"flag"}]}`, `cases.jsonl:3: call 1 (a): unknown key "want_at_lest"`},
		{"want and a bound", `{"calls":[{"tool":"a","want":"flag","want_at_most":"deny"}]}`, "cases.jsonl:3: call 1 (a): want and want_at_most together"},
		{"empty range", `{"calls":[{"tool":"a","want_at_least":"deny","want_at_most":"flag"}]}`, "cases.jsonl:3: call 1 (a): want_at_least deny is above want_at_most flag"},
		{"wants nothing", `{"calls":[{"tool":"a"},{"tool":"b"}]}`, "cases.jsonl:3: the case wants nothing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Line 2 is blank: errors count it, as ReadTraces does.
			_, err := ReadReplayCases("cases.jsonl", strings.NewReader(good+"\n\n"+tt.line+"\n"))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestReadReplayCasesReadsWantsAndDefaults(t *testing.T) {
	in := `{"task_id":"user_task_1","suite":"s","workflow":"w.yaml","calls":[{"tool":"a"},{"tool":"b","want":"step-up"},{"tool":"c","want_at_least":"flag"},{"tool":"d","want_at_most":"flag"},{"tool":"e","want_at_least":"flag","want_at_most":"deny"}]}

{"calls":[{"tool":"a","want":"kill"}]}
`
	cases, err := ReadReplayCases("c.jsonl", strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 2 {
		t.Fatalf("read %d cases, want 2", len(cases))
	}
	c := cases[0]
	if c.ID != "user_task_1" || c.Agent != "s" || c.Workflow != "w.yaml" || c.Line != 1 || len(c.Calls) != 5 {
		t.Fatalf("first case = %+v", c)
	}
	wants := []string{"anything", "step_up", "at least flag", "at most flag", "between flag and deny"}
	for i, w := range c.Wants {
		if w.String() != wants[i] {
			t.Errorf("call %d wants %q, want %q", i+1, w, wants[i])
		}
	}
	if c.Wants[0].Checks() || !c.Wants[1].Checks() {
		t.Errorf("Checks: call 1 %v, call 2 %v", c.Wants[0].Checks(), c.Wants[1].Checks())
	}
	if cases[1].ID != "3" || cases[1].Line != 3 || cases[1].Wants[0].String() != "kill" {
		t.Fatalf("second case = %+v", cases[1])
	}
}

func TestReplayCaseCheck(t *testing.T) {
	want := func(min, max warden.Verdict) Want { return Want{Min: min, Max: max} }
	tests := []struct {
		name string
		want Want
		got  warden.Verdict
		ok   bool
	}{
		{"exact", want(warden.Flag, warden.Flag), warden.Flag, true},
		{"exact, stronger", want(warden.Flag, warden.Flag), warden.StepUp, false},
		{"exact, weaker", want(warden.Flag, warden.Flag), warden.Allow, false},
		{"at least, met", want(warden.StepUp, warden.Kill), warden.Deny, true},
		{"at least, missed", want(warden.StepUp, warden.Kill), warden.Throttle, false},
		{"at most, met", want(warden.Allow, warden.Flag), warden.Allow, true},
		{"at most, exceeded", want(warden.Allow, warden.Flag), warden.StepUp, false},
		{"nothing wanted", want(warden.Allow, warden.Kill), warden.Kill, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ReplayCase{Wants: []Want{{Min: warden.Allow, Max: warden.Kill}, tt.want}}
			rs := ReplayedSession{Calls: []ReplayedCall{
				{Tool: "first", Verdict: warden.Kill},
				{Tool: "second", Verdict: tt.got, Reasons: []string{"why"}},
			}}
			got := c.Check(rs)
			if tt.ok {
				if len(got) != 0 {
					t.Fatalf("mismatches %+v, want none", got)
				}
				return
			}
			if len(got) != 1 || got[0].Call != 2 || got[0].Tool != "second" || got[0].Got != tt.got || got[0].Want != tt.want.String() || len(got[0].Reasons) != 1 {
				t.Fatalf("mismatches %+v, want call 2 with its verdict and reasons", got)
			}
		})
	}
}
