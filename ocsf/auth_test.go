package ocsf

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/warden-dev/warden/store"
)

// TestAuthFailuresSemantics: a window of refused tokens becomes one Logon
// failure per address and reason, with its count and the address a SIEM
// keys on, and nothing that names an agent.
func TestAuthFailuresSemantics(t *testing.T) {
	first := time.Date(2026, 11, 2, 9, 14, 1, 0, time.UTC)
	w := store.AuthFailures{From: first, Until: first.Add(time.Minute), Addresses: []store.AuthFailureSource{
		{Address: "203.0.113.9", Missing: 2, Invalid: 40, First: first, Last: first.Add(58 * time.Second)},
	}}
	data, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	out := Map(sysLog, ev(sysLog, 4, store.KindAuthFailures, func(e *store.Event) { e.Data = data }))
	if len(out) != 2 {
		t.Fatalf("%d events, want 2 (missing, invalid)", len(out))
	}
	want := []struct {
		count  int
		detail string
	}{{2, "no bearer token"}, {40, "unknown bearer token"}}
	for i, e := range out {
		if e["count"] != want[i].count || e["status_detail"] != want[i].detail {
			t.Errorf("event %d: count %v detail %v, want %d %q", i, e["count"], e["status_detail"], want[i].count, want[i].detail)
		}
		if e["status_id"] != statusFailure || e["activity_id"] != logon.id {
			t.Errorf("event %d: status %v activity %v, want a failed logon", i, e["status_id"], e["activity_id"])
		}
		if ip := e["src_endpoint"].(obj)["ip"]; ip != "203.0.113.9" {
			t.Errorf("event %d: src ip %v", i, ip)
		}
		if name := e["user"].(obj)["name"]; name != "unknown" {
			t.Errorf("event %d: user %v, want unknown", i, name)
		}
	}
	if out[0]["metadata"].(obj)["uid"] == out[1]["metadata"].(obj)["uid"] {
		t.Error("the two events share a uid; a SIEM would drop one as a duplicate")
	}
}
