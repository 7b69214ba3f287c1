package ocsf

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/warden-dev/warden/store"
)

// TestMapSemantics pins what a SIEM rule would key on: the verdict's
// disposition, status and severity, the finding's uid and risk score,
// the agent and the session.
func TestMapSemantics(t *testing.T) {
	tests := []struct {
		name string
		ev   store.Event
		line int            // which line of the event's
		want map[string]any // dotted path -> value, compared as JSON
	}{
		{"allowed call", ev(httpSes, 2, store.KindCall, call("allow")), 0, map[string]any{
			"disposition_id": 1, "status_id": 1, "severity_id": 1, "is_alert": false,
			"api.operation": "send_email", "api.service.name": "mail", "actor.user.name": "support-bot",
			"actor.session.uid": "s1", "src_endpoint.ip": "203.0.113.7", "metadata.correlation_uid": "s1/c7"}},
		{"denied call", ev(httpSes, 2, store.KindCall, call("deny")), 0, map[string]any{
			"disposition_id": 2, "status_id": 2, "severity_id": 3, "is_alert": true,
			"status_detail": "send_email is not a next step of the workflow"}},
		{"denied call's finding", ev(httpSes, 2, store.KindCall, call("deny")), 1, map[string]any{
			"class_uid": 2004, "finding_info.uid": "s1/2#finding", "metadata.uid": "s1/2#finding", "finding_info.title": "Call denied"}},
		{"held call", ev(httpSes, 2, store.KindCall, call("step_up")), 0, map[string]any{
			"disposition_id": 23, "status_id": 99, "status": "Held for approval"}},
		{"killing call", ev(httpSes, 2, store.KindCall, call("kill")), 1, map[string]any{"severity_id": 4}},
		{"signal", ev(httpSes, 5, store.KindSignal, func(e *store.Event) {
			e.Verdict = "allow"
			e.Data = json.RawMessage(`{"signal":{"name":"ip_change","weight":0.4}}`)
		}), 0, map[string]any{"risk_score": 40, "finding_info.title": "Signal: ip_change", "finding_info.uid": "s1/5", "severity_id": 2}},
		{"approval denied", ev(httpSes, 3, store.KindApproval, func(e *store.Event) { e.Verdict = "denied" }), 0, map[string]any{
			"disposition_id": 25, "status_id": 4, "activity_id": 2}},
		{"logon", ev(httpSes, 1, store.KindSessionStart, nil), 0, map[string]any{
			"activity_id": 1, "user.name": "support-bot", "session.uid": "s1", "status_id": 1}},
		{"chain", ev(httpSes, 4, store.KindKill, nil), 0, map[string]any{
			"unmapped.warden.seq": 4, "unmapped.warden.hash": ev(httpSes, 4, "", nil).Hash, "unmapped.warden.prev": ev(httpSes, 4, "", nil).Prev}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := Map(httpSes, tt.ev)
			b, err := json.Marshal(lines[tt.line])
			if err != nil {
				t.Fatal(err)
			}
			var o map[string]any
			if err := json.Unmarshal(b, &o); err != nil {
				t.Fatal(err)
			}
			for path, want := range tt.want {
				got := lookup(o, path)
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("%s = %v, want %v", path, got, want)
				}
			}
		})
	}
}

// lookup follows a dotted path through decoded JSON.
func lookup(o map[string]any, path string) any {
	var cur any = o
	for _, key := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[key]
	}
	return cur
}
