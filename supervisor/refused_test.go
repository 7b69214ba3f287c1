package supervisor

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/warden-dev/warden/store"
)

// TestRefusedCallsAreNotOpen: a call refused over a rate is recorded with
// verdict throttle and no result; unlike a call that went ahead and has
// no result yet, it is not open (a takeover or a restart must not record
// it as interrupted), and it spent no budget.
func TestRefusedCallsAreNotOpen(t *testing.T) {
	call := func(id, verdict string, data json.RawMessage) store.Event {
		return store.Event{Kind: store.KindCall, CallID: id, Tool: "echo", Verdict: verdict, Data: data}
	}
	refusedData := markRefused(json.RawMessage(`{"steps":["a"]}`))
	var kept struct {
		Steps   []string `json:"steps"`
		Refused bool     `json:"refused"`
	}
	if err := json.Unmarshal(refusedData, &kept); err != nil || !kept.Refused || !slices.Equal(kept.Steps, []string{"a"}) {
		t.Fatalf("markRefused = %s (%v), want the steps kept and refused set", refusedData, err)
	}
	evs := []store.Event{
		call("went", "throttle", nil),
		call("refused", "throttle", markRefused(nil)),
		call("refused-with-steps", "throttle", refusedData),
		call("allowed", "allow", json.RawMessage(`{"steps":["a"]}`)),
		call("agent-says-refused", "allow", json.RawMessage(`{"provenance":{"refused":["intent"]}}`)),
		call("denied", "deny", markRefused(nil)),
	}
	var open []string
	for _, e := range openCalls(evs) {
		open = append(open, e.CallID)
	}
	if want := []string{"went", "allowed", "agent-says-refused"}; !slices.Equal(open, want) {
		t.Fatalf("open calls %v, want %v", open, want)
	}
	for _, e := range evs {
		if want := slices.Contains(open, e.CallID); wentAhead(e) != want {
			t.Errorf("wentAhead(%s) = %v, want %v", e.CallID, !want, want)
		}
	}
}
