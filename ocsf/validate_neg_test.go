package ocsf

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/warden-dev/warden/store"
)

// TestValidatorRejects proves the validator can fail: each case breaks one
// valid line in one way, and the validator must name the attribute.
func TestValidatorRejects(t *testing.T) {
	s := testSchema(t)
	tests := []struct {
		name   string
		ev     store.Event
		mutate func(o map[string]any)
		want   string // in one of the errors
	}{
		{"missing required metadata.version", ev(httpSes, 2, store.KindCall, call("allow")),
			func(o map[string]any) { delete(o["metadata"].(map[string]any), "version") }, "metadata.version: required"},
		{"missing required api", ev(httpSes, 2, store.KindCall, call("allow")),
			func(o map[string]any) { delete(o, "api") }, "api: required"},
		{"missing required finding_info.uid", ev(httpSes, 4, store.KindKill, nil),
			func(o map[string]any) { delete(o["finding_info"].(map[string]any), "uid") }, "finding_info.uid: required"},
		{"wrong type of severity_id", ev(httpSes, 2, store.KindCall, call("allow")),
			func(o map[string]any) { o["severity_id"] = "high" }, "severity_id"},
		{"wrong type of a nested string", ev(httpSes, 1, store.KindSessionStart, nil),
			func(o map[string]any) { o["user"].(map[string]any)["name"] = 7 }, "user.name"},
		{"bad ip", ev(httpSes, 1, store.KindSessionStart, nil),
			func(o map[string]any) { o["src_endpoint"].(map[string]any)["ip"] = "not-an-ip" }, "src_endpoint.ip"},
		{"activity not in the class", ev(httpSes, 2, store.KindCall, call("allow")),
			func(o map[string]any) { o["activity_id"], o["type_uid"] = 7, 600307 }, "activity_id"},
		{"type_uid not class*100+activity", ev(httpSes, 2, store.KindCall, call("allow")),
			func(o map[string]any) { o["type_uid"] = 600301 }, "type_uid"},
		{"wrong category", ev(httpSes, 2, store.KindCall, call("allow")),
			func(o map[string]any) { o["category_uid"] = 3 }, "category_uid"},
		{"unknown severity", ev(httpSes, 2, store.KindCall, call("allow")),
			func(o map[string]any) { o["severity_id"] = 42 }, "severity_id"},
		{"unknown status", ev(httpSes, 3, store.KindResult, nil),
			func(o map[string]any) { o["status_id"] = 5 }, "status_id"},
		{"sibling caption differs", ev(httpSes, 1, store.KindSessionStart, nil),
			func(o map[string]any) { o["activity_name"] = "Logoff" }, "activity_id"},
		{"unknown attribute", ev(httpSes, 2, store.KindCall, call("allow")),
			func(o map[string]any) { o["warden_seq"] = 2 }, "warden_seq: not an attribute"},
		{"unknown nested attribute", ev(httpSes, 2, store.KindCall, call("allow")),
			func(o map[string]any) { o["api"].(map[string]any)["tool"] = "x" }, "api.tool: not an attribute"},
		{"profile attribute without the profile", ev(httpSes, 2, store.KindCall, call("allow")),
			func(o map[string]any) { delete(o["metadata"].(map[string]any), "profiles") }, "disposition_id: not an attribute"},
		{"constraint: user needs a name or uid", ev(httpSes, 1, store.KindSessionStart, nil),
			func(o map[string]any) { o["user"] = map[string]any{"type_id": 99} }, "user: user needs at least one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if _, err := Write(&buf, httpSes, []store.Event{tt.ev}); err != nil {
				t.Fatal(err)
			}
			first, _, _ := bytes.Cut(buf.Bytes(), []byte("\n"))
			if errs := s.Validate(first); len(errs) != 0 {
				t.Fatalf("the unbroken line is invalid: %v", errs)
			}
			var o map[string]any
			if err := json.Unmarshal(first, &o); err != nil {
				t.Fatal(err)
			}
			tt.mutate(o)
			line, err := json.Marshal(o)
			if err != nil {
				t.Fatal(err)
			}
			errs := s.Validate(line)
			for _, err := range errs {
				if strings.Contains(err.Error(), tt.want) {
					return
				}
			}
			t.Fatalf("want an error with %q, got %v", tt.want, errs)
		})
	}
}
