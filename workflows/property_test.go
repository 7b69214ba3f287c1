package workflows

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/warden-dev/warden"
)

// randomCall draws a call over the tools of refund.yaml and a few others,
// with arguments from a small pool so guards are sometimes true.
func randomCall(t *rapid.T) (Call, string) {
	tool := rapid.SampledFrom([]string{"crm_find", "orders_get", "payments_refund", "kb_x", "shell", "orders_get"}).Draw(t, "tool")
	args := map[string]any{
		"customer": rapid.SampledFrom([]string{"c1", "c2", "evil"}).Draw(t, "customer"),
		"amount":   float64(rapid.IntRange(0, 200).Draw(t, "amount")),
	}
	result := rapid.SampledFrom([]string{`[{"id": "c1"}]`, `{"customer": "c1"}`, "text", `{"customer": "c2"}`, "SECRET"}).Draw(t, "result")
	return Call{Tool: tool, Args: args}, result
}

// TestPropertyMatcher: for any sequence of calls, the step set never
// empties, Decide does not change the state it is given, a replay of the
// same sequence gives the same verdicts, and the state survives JSON.
func TestPropertyMatcher(t *testing.T) {
	w := loadTestdata(t, "refund.yaml")
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 30).Draw(t, "n")
		type step struct {
			call   Call
			result string
		}
		var seq []step
		for range n {
			c, r := randomCall(t)
			seq = append(seq, step{c, r})
		}
		run := func() ([]warden.Verdict, State) {
			st := w.Start(SessionInfo{ID: "p", Started: t0})
			var out []warden.Verdict
			for i, s := range seq {
				now := t0.Add(time.Duration(i) * time.Second)
				before, _ := json.Marshal(st)
				d, next := w.Decide(st, s.call, now)
				after, _ := json.Marshal(st)
				if string(before) != string(after) {
					t.Fatalf("Decide changed its input state")
				}
				if len(next.Steps) == 0 {
					t.Fatalf("step set emptied after %s", s.call.Tool)
				}
				if d.Verdict > warden.Throttle && d.Verdict < warden.Kill && !reflect.DeepEqual(next.Steps, st.Steps) {
					t.Fatalf("a refused call (%s) moved the session", d.Verdict)
				}
				st = next
				if d.Verdict <= warden.Throttle {
					od, after := w.Observe(st, d.Steps, s.call, Result{Text: s.result}, now)
					if len(after.Steps) == 0 {
						t.Fatalf("step set emptied after the result")
					}
					d.Raise(od.Verdict, od.Reasons...)
					st = after
				}
				out = append(out, d.Verdict)
			}
			return out, st
		}
		v1, s1 := run()
		v2, s2 := run()
		if !reflect.DeepEqual(v1, v2) {
			t.Fatalf("same calls, different verdicts: %v vs %v", v1, v2)
		}
		raw, err := json.Marshal(s1)
		if err != nil {
			t.Fatal(err)
		}
		var back State
		if err := json.Unmarshal(raw, &back); err != nil {
			t.Fatal(err)
		}
		raw2, _ := json.Marshal(s2)
		raw3, _ := json.Marshal(back)
		if string(raw) != string(raw2) || string(raw) != string(raw3) {
			t.Fatalf("states differ after replay or a JSON round trip")
		}
	})
}
