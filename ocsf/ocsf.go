// Package ocsf maps warden's history to OCSF 1.x events for a SIEM: API
// Activity (6003) for calls and their results, Authentication (3002) for
// session starts and ends and refused tokens, and Detection Finding (2004) for escalations,
// signals, kills and tool definition changes. docs/siem.md has the
// mapping with an example line per class.
package ocsf

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/warden-dev/warden/store"
)

// Version is the OCSF schema version the events claim (metadata.version)
// and are validated against (testdata/ocsf-schema-1.8.0).
const Version = "1.8.0"

// obj is one OCSF object as it is encoded; keys are encoded sorted, so a
// line is the same every time it is made.
type obj = map[string]any

// Map returns the OCSF events for ev, an event of session s as stored:
// none for kinds a SIEM has no use for (intent, judgement, upstream
// sessions, accepted tools), one for most, and two for a call that was
// escalated (its API Activity and a Detection Finding).
func Map(s store.Session, ev store.Event) []map[string]any {
	c := newCommon(s, ev)
	switch ev.Kind {
	case store.KindSessionStart:
		return []map[string]any{c.authentication(logon)}
	case store.KindSessionEnd:
		return []map[string]any{c.authentication(logoff)}
	case store.KindCall, store.KindResourceRead, store.KindPromptGet, store.KindCompletion:
		out := []map[string]any{c.apiCall()}
		if f := c.escalation(); f != nil {
			out = append(out, f)
		}
		return out
	case store.KindResult:
		return []map[string]any{c.apiResult()}
	case store.KindApproval, store.KindKill, store.KindSignal, store.KindToolChanged:
		return []map[string]any{c.finding()}
	case store.KindAuthFailures:
		return c.authFailures()
	}
	return nil
}

// Write writes the OCSF events of evs, events of session s in seq order,
// one JSON object per line, and returns how many lines it wrote.
func Write(w io.Writer, s store.Session, evs []store.Event) (int, error) {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	n := 0
	for _, ev := range evs {
		for _, o := range Map(s, ev) {
			if err := enc.Encode(o); err != nil {
				return n, fmt.Errorf("ocsf: session %q event %d: %w", s.ID, ev.Seq, err)
			}
			n++
		}
	}
	return n, nil
}
