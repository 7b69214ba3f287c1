package supervisor

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/warden-dev/warden/eval"
)

// sessionApproval is an approver's "allow for the rest of the session" on
// a step: who, for which reasons, and the arguments the approver saw where
// the guards and rules behind those reasons read them.
type sessionApproval struct {
	by      string
	reasons map[string]bool
	pins    argPins
}

// argPins are the values of the arguments an approval is bound to, by
// path; with all, the arguments as a whole.
type argPins struct {
	all    bool
	whole  string
	values map[string]string
}

// pinArgs takes from args (the call's arguments as JSON) the values at the
// paths of reads. Arguments that cannot be read as JSON are pinned whole.
func pinArgs(reads eval.Reads, args json.RawMessage) argPins {
	var v any
	if reads.All || json.Unmarshal(args, &v) != nil {
		return argPins{all: true, whole: canonical(args)}
	}
	p := argPins{values: make(map[string]string, len(reads.Paths))}
	for _, path := range reads.Paths {
		p.values[strings.Join(path, "\x00")] = valueAt(v, path)
	}
	return p
}

// match reports whether args has the pinned values.
func (p argPins) match(args json.RawMessage) bool {
	if p.all {
		return canonical(args) == p.whole
	}
	if len(p.values) == 0 {
		return true
	}
	var v any
	if json.Unmarshal(args, &v) != nil {
		return false
	}
	for key, want := range p.values {
		if valueAt(v, strings.Split(key, "\x00")) != want {
			return false
		}
	}
	return true
}

// valueAt is the canonical JSON of the value at path in v; a missing key
// is "absent", and a path that stops at a value which is not an object
// gives that value, marked with where it stopped.
func valueAt(v any, path []string) string {
	for i, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			if v == nil {
				return "absent"
			}
			b, _ := json.Marshal(v)
			return "not an object at " + strings.Join(path[:i], ".") + ": " + string(b)
		}
		if v, ok = m[k]; !ok {
			return "absent"
		}
	}
	b, _ := json.Marshal(v) // decoded JSON always encodes; map keys come out sorted
	return string(b)
}

// canonical re-encodes JSON with sorted keys, so that equal arguments
// compare equal whatever their key order.
func canonical(raw json.RawMessage) string {
	var v any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return "undecodable: " + string(raw)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// approvedFor says who allowed a step for the rest of the session, if the
// approval covers every one of reasons (the step's own violation, as the
// approver saw it; a budget or a rule that steps up for another reason
// still asks again) and args agree with the call the approver saw
// wherever those reasons' guards and rules read them.
func (s *session) approvedFor(step string, reasons []string, args json.RawMessage) (by string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.approved[step]
	if !ok {
		return "", false
	}
	for _, r := range reasons {
		if !a.reasons[r] {
			return "", false
		}
	}
	if !a.pins.match(args) {
		return "", false
	}
	return a.by, true
}

// approve records an approval for the rest of the session of step, bound
// to pins.
func (s *session) approve(step, by string, reasons []string, pins argPins) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.approved == nil {
		s.approved = map[string]sessionApproval{}
	}
	a := sessionApproval{by: by, reasons: map[string]bool{}, pins: pins}
	for _, r := range reasons {
		a.reasons[r] = true
	}
	s.approved[step] = a
	s.revalidate = ""
}
