package ocsf

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/warden-dev/warden/internal/ocsfschema"
	"github.com/warden-dev/warden/store"
)

// schemaDir is OCSF 1.8.0's definition files, as many as these events
// need, from github.com/ocsf/ocsf-schema (Apache-2.0, LICENSE beside them).
const schemaDir = "testdata/ocsf-schema-" + Version

func testSchema(t testing.TB) *ocsfschema.Schema {
	t.Helper()
	s, err := ocsfschema.Load(os.DirFS(schemaDir))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var (
	t0      = time.Date(2026, 11, 2, 9, 14, 3, 500e6, time.UTC)
	httpSes = store.Session{ID: "s1", Agent: "support-bot", ClientName: "claude-code", RemoteAddr: "203.0.113.7:51234",
		UserAgent: "claude-code/1.0", Started: t0, State: store.StateActive}
	stdioSes = store.Session{ID: "s2", Agent: "local-bot", Started: t0, State: store.StateActive}
	sysLog   = store.Session{ID: store.SystemLog, Started: t0, State: store.StateActive}
)

// ev makes a stored-looking event of session s.
func ev(s store.Session, seq uint64, kind string, mod func(*store.Event)) store.Event {
	e := store.Event{Seq: seq, Session: s.ID, Time: t0.Add(time.Duration(seq) * time.Second), Kind: kind,
		Prev: strings.Repeat("a", 64), Hash: strings.Repeat("b", 64)}
	if mod != nil {
		mod(&e)
	}
	return e
}

func call(verdict string) func(*store.Event) {
	return func(e *store.Event) {
		e.CallID, e.Upstream, e.Tool, e.Verdict = "c7", "mail", "send_email", verdict
		e.Args = json.RawMessage(`{"to":"ann@example.com","body":"[redacted]"}`)
		if verdict != "allow" {
			e.Reasons = []string{"send_email is not a next step of the workflow"}
		}
	}
}

// TestMapValidates maps every kind of warden event and validates each
// line against the OCSF schema.
func TestMapValidates(t *testing.T) {
	s := testSchema(t)
	tests := []struct {
		name    string
		s       store.Session
		ev      store.Event
		classes []int
	}{
		{"session start over HTTP", httpSes, ev(httpSes, 1, store.KindSessionStart, nil), []int{3002}},
		{"session start over stdio", stdioSes, ev(stdioSes, 1, store.KindSessionStart, nil), []int{3002}},
		{"session end", httpSes, ev(httpSes, 9, store.KindSessionEnd, func(e *store.Event) { e.Reasons = []string{"closed by the client or idle"} }), []int{3002}},
		{"allowed call", httpSes, ev(httpSes, 2, store.KindCall, call("allow")), []int{6003}},
		{"flagged call", httpSes, ev(httpSes, 2, store.KindCall, call("flag")), []int{6003, 2004}},
		{"throttled call", httpSes, ev(httpSes, 2, store.KindCall, call("throttle")), []int{6003, 2004}},
		{"held call", httpSes, ev(httpSes, 2, store.KindCall, call("step_up")), []int{6003, 2004}},
		{"denied call", stdioSes, ev(stdioSes, 2, store.KindCall, call("deny")), []int{6003, 2004}},
		{"killing call", httpSes, ev(httpSes, 2, store.KindCall, call("kill")), []int{6003, 2004}},
		{"resource read", httpSes, ev(httpSes, 2, store.KindResourceRead, func(e *store.Event) {
			e.CallID, e.Upstream, e.Tool, e.Verdict = "c8", "files", "file:///notes.txt", "allow"
		}), []int{6003}},
		{"result", httpSes, ev(httpSes, 3, store.KindResult, func(e *store.Event) {
			e.CallID, e.Upstream, e.Tool, e.OK, e.Size, e.LatencyUS = "c7", "mail", "send_email", true, 120, 4200
		}), []int{6003}},
		{"failed result", httpSes, ev(httpSes, 3, store.KindResult, func(e *store.Event) {
			e.CallID, e.Upstream, e.Tool, e.Error = "c7", "mail", "send_email", "upstream timed out"
		}), []int{6003}},
		{"approval approved", httpSes, ev(httpSes, 3, store.KindApproval, func(e *store.Event) {
			e.CallID, e.Tool, e.Verdict, e.Reasons = "c7", "send_email", "approved", []string{"approved by ann"}
		}), []int{2004}},
		{"approval denied", httpSes, ev(httpSes, 3, store.KindApproval, func(e *store.Event) {
			e.CallID, e.Tool, e.Verdict = "c7", "send_email", "denied"
		}), []int{2004}},
		{"kill", httpSes, ev(httpSes, 4, store.KindKill, func(e *store.Event) { e.Reasons = []string{"killed by admin"} }), []int{2004}},
		{"signal", httpSes, ev(httpSes, 5, store.KindSignal, func(e *store.Event) {
			e.Verdict, e.Reasons = "step_up", []string{"remote address changed"}
			e.Data = json.RawMessage(`{"signal":{"name":"ip_change","weight":0.4,"at":"2026-11-02T09:14:08Z"}}`)
		}), []int{2004}},
		{"tool changed", sysLog, ev(sysLog, 1, store.KindToolChanged, func(e *store.Event) { e.Upstream, e.Tool = "mail", "send_email" }), []int{2004}},
		{"intent is not exported", httpSes, ev(httpSes, 6, store.KindIntent, nil), nil},
		{"refused tokens", sysLog, ev(sysLog, 2, store.KindAuthFailures, func(e *store.Event) {
			e.Data = json.RawMessage(`{"from":"2026-11-02T09:14:00Z","until":"2026-11-02T09:15:00Z","addresses":[` +
				`{"address":"203.0.113.9","missing":3,"invalid":40,"first":"2026-11-02T09:14:01Z","last":"2026-11-02T09:14:59Z"},` +
				`{"address":"2001:db8::1","invalid":1,"first":"2026-11-02T09:14:30Z","last":"2026-11-02T09:14:30Z"}],"more":7}`)
		}), []int{3002, 3002, 3002, 3002}},
		{"refused tokens, unreadable record", sysLog, ev(sysLog, 3, store.KindAuthFailures, func(e *store.Event) { e.Data = json.RawMessage(`[]`) }), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			n, err := Write(&buf, tt.s, []store.Event{tt.ev})
			if err != nil {
				t.Fatal(err)
			}
			if n != len(tt.classes) {
				t.Fatalf("wrote %d lines, want %d", n, len(tt.classes))
			}
			lines := bytes.Split(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), []byte("\n"))
			uids := map[string]bool{}
			for i, c := range tt.classes {
				var head struct {
					ClassUID int `json:"class_uid"`
					Metadata struct {
						UID string `json:"uid"`
					} `json:"metadata"`
				}
				if err := json.Unmarshal(lines[i], &head); err != nil {
					t.Fatal(err)
				}
				if head.ClassUID != c {
					t.Errorf("line %d: class %d, want %d", i, head.ClassUID, c)
				}
				if uids[head.Metadata.UID] {
					t.Errorf("line %d: metadata.uid %q repeats", i, head.Metadata.UID)
				}
				uids[head.Metadata.UID] = true
				for _, err := range s.Validate(lines[i]) {
					t.Errorf("line %d: %v", i, err)
				}
			}
		})
	}
	if os.Getenv("OCSF_LIST_FILES") != "" {
		t.Log(strings.Join(s.Opened(), "\n"))
	}
}
