package supervisor

import (
	"encoding/json"

	"github.com/warden-dev/warden/store"
)

// A call refused before its policy ran (over the rate, over a budget) is
// recorded with the verdict of the check that refused it, which may be
// throttle: a verdict under which calls otherwise go ahead. Its event's
// Data says "refused": true, so that what reads history for the calls
// that went to their upstream (the calls a crash or a takeover left open,
// the budgets rebuilt at start) leaves it out. Only warden writes a call
// event's Data, and no other key of it is named so.

// markRefused adds "refused": true to a call event's Data.
func markRefused(data json.RawMessage) json.RawMessage {
	m := map[string]json.RawMessage{}
	if len(data) > 0 {
		if err := json.Unmarshal(data, &m); err != nil {
			m = map[string]json.RawMessage{}
		}
	}
	m["refused"] = json.RawMessage("true")
	b, _ := json.Marshal(m)
	return b
}

// wasRefused reports whether a call event records a call refused before
// it was decided (markRefused).
func wasRefused(e store.Event) bool {
	if len(e.Data) == 0 {
		return false
	}
	var d struct {
		Refused bool `json:"refused"`
	}
	return json.Unmarshal(e.Data, &d) == nil && d.Refused
}
