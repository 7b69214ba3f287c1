package ocsf

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/warden-dev/warden/store"
)

// FuzzMapValidates: whatever a recorded event holds (any kind, verdict,
// names, reasons, data, client address), every line Map makes is valid
// OCSF.
func FuzzMapValidates(f *testing.F) {
	s := testSchema(f)
	kinds := []string{store.KindSessionStart, store.KindSessionEnd, store.KindCall, store.KindResult, store.KindApproval,
		store.KindKill, store.KindSignal, store.KindToolChanged, store.KindResourceRead, store.KindPromptGet, store.KindCompletion, store.KindAuthFailures}
	f.Add(uint8(2), "deny", "refund", "over limit", []byte(`{"a":1}`), "203.0.113.7:51234", "bot", true)
	f.Add(uint8(6), "step_up", "", "", []byte(`{"signal":{"name":"ip_change","weight":1e300}}`), "[::1]:9", "", false)
	f.Add(uint8(0), "", "", "", []byte(`null`), "", "", false)
	f.Add(uint8(11), "deny", "", "", []byte(`{"from":"2026-11-02T09:14:00Z","addresses":[{"address":"::1","invalid":2,"first":"2026-11-02T09:14:01Z"}],"more":1}`), "", "", false)
	f.Fuzz(func(t *testing.T, k uint8, verdict, tool, reason string, data []byte, remote, agent string, ok bool) {
		sess := store.Session{ID: "s", Agent: agent, RemoteAddr: remote, Started: time.Unix(0, 0)}
		ev := store.Event{Seq: 3, Session: "s", Time: time.Unix(1, 0), Kind: kinds[int(k)%len(kinds)], CallID: "c", Upstream: "u",
			Tool: tool, Verdict: verdict, Reasons: []string{reason}, OK: ok, Data: json.RawMessage(data), Args: json.RawMessage(data)}
		var buf bytes.Buffer
		if _, err := Write(&buf, sess, []store.Event{ev}); err != nil {
			return // not JSON: the store never holds it
		}
		for _, line := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
			if len(line) == 0 {
				continue
			}
			if errs := s.Validate(line); len(errs) > 0 {
				t.Fatalf("%v\n%s", errs, line)
			}
		}
	})
}
