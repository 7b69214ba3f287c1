package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"
)

// normalize returns ev after the JSON round trip described in chain.go.
// Most events come out of that round trip changed only in ways that can
// be made directly, which costs a fraction of encoding and decoding the
// whole event on every append: normalizeFast does that, and the round
// trip is left for the rest (invalid UTF-8, unusual times, bad JSON,
// where it also gives the error).
func normalize(ev Event) (Event, error) {
	if n, ok := normalizeFast(ev); ok {
		return n, nil
	}
	return roundTrip(ev)
}

// roundTrip is the JSON round trip itself.
func roundTrip(ev Event) (Event, error) {
	b, err := json.Marshal(&ev)
	if err != nil {
		return Event{}, fmt.Errorf("encode event: %w", err)
	}
	var n Event
	if err := json.Unmarshal(b, &n); err != nil {
		return Event{}, fmt.Errorf("normalise event: %w", err)
	}
	return n, nil
}

// normalizeFast gives what roundTrip would for an event whose strings are
// all valid UTF-8 (they then come back as they were), whose time is UTC
// within the years 0-9999 (it comes back without its monotonic reading),
// and whose Args and Data are empty (they come back as null) or valid JSON
// (they come back compacted, with <, >, &, U+2028 and U+2029 escaped, as
// encoding/json writes a RawMessage). ok is false for any other event.
func normalizeFast(ev Event) (Event, bool) {
	for _, s := range [...]string{ev.Session, ev.Kind, ev.CallID, ev.Upstream, ev.Tool, ev.Verdict, ev.Error, ev.DataSHA256, ev.Prev, ev.Hash} {
		if !utf8.ValidString(s) {
			return Event{}, false
		}
	}
	for _, s := range ev.Reasons {
		if !utf8.ValidString(s) {
			return Event{}, false
		}
	}
	if y := ev.Time.Year(); ev.Time.Location() != time.UTC || y < 0 || y > 9999 {
		return Event{}, false
	}
	ev.Time = ev.Time.Round(0)
	var ok bool
	if ev.Args, ok = canonicalJSON(ev.Args); !ok {
		return Event{}, false
	}
	if ev.Data, ok = canonicalJSON(ev.Data); !ok {
		return Event{}, false
	}
	return ev, true
}

// canonicalJSON is raw as encoding/json writes a RawMessage field: null
// when nil, else compacted and HTML-escaped. ok is false when raw is not
// valid JSON (encoding it would fail).
func canonicalJSON(raw json.RawMessage) (json.RawMessage, bool) {
	if raw == nil {
		return json.RawMessage("null"), true
	}
	// What json.Marshal wrote (most Args and Data) is usually canonical
	// already: then it is kept, not copied.
	if canonical(raw) {
		return raw, true
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return nil, false
	}
	if !bytes.ContainsAny(compact.Bytes(), "<>&\u2028\u2029") {
		return compact.Bytes(), true
	}
	var escaped bytes.Buffer
	json.HTMLEscape(&escaped, compact.Bytes())
	return escaped.Bytes(), true
}

// plain reports whether valid JSON raw is as json.Compact and
// json.HTMLEscape leave it: no whitespace outside its strings, no <, >
// or &, no U+2028 or U+2029 (E2 80 A8, E2 80 A9). One pass: it runs on
// every event's Args and Data, twice.
func plain(raw []byte) bool {
	in := false
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; c {
		case '\\':
			i++ // only in a string; the escaped byte cannot end it
		case '"':
			in = !in
		case ' ', '\t', '\n', '\r':
			if !in {
				return false
			}
		case '<', '>', '&':
			return false
		case 0xE2:
			if i+2 < len(raw) && raw[i+1] == 0x80 && (raw[i+2] == 0xA8 || raw[i+2] == 0xA9) {
				return false
			}
		}
	}
	return true
}
