package supervisor

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/warden-dev/warden"
)

// ReplayCase is a test case for a policy (warden test): a trace in the
// replay format whose calls carry the verdicts they must get. Each call may
// say "want" (that verdict exactly), "want_at_least" and "want_at_most"
// (bounds); "workflow" at the top names the workflow to replay against.
type ReplayCase struct {
	Trace
	// Workflow names the workflow file to replay against; empty: the one
	// for the trace's agent.
	Workflow string
	// Wants holds one expectation per call; a call that says none has
	// Want{Min: allow, Max: kill}, which checks nothing.
	Wants []Want
}

// Want is what a case wants of one call's verdict: at least Min and at
// most Max; a call with no expectation has Min allow and Max kill.
type Want struct {
	Min, Max warden.Verdict
}

// Checks reports whether w checks anything.
func (w Want) Checks() bool { return w.Min != warden.Allow || w.Max != warden.Kill }

// String says what w wants: "step_up", "at least step_up", "at most flag",
// "between flag and deny", or "anything".
func (w Want) String() string {
	switch {
	case !w.Checks():
		return "anything"
	case w.Min == w.Max:
		return w.Min.String()
	case w.Max == warden.Kill:
		return "at least " + w.Min.String()
	case w.Min == warden.Allow:
		return "at most " + w.Max.String()
	}
	return "between " + w.Min.String() + " and " + w.Max.String()
}

// Mismatch is a call whose replayed verdict is not what its case wants.
type Mismatch struct {
	Call    int            `json:"call"` // 1-based, as warden replay prints calls
	Tool    string         `json:"tool"`
	Got     warden.Verdict `json:"got"`
	Want    string         `json:"want"`
	Reasons []string       `json:"reasons"`
}

// Check compares a replay of c with what c wants, call by call.
func (c ReplayCase) Check(rs ReplayedSession) []Mismatch {
	var out []Mismatch
	for i, w := range c.Wants {
		if i >= len(rs.Calls) || !w.Checks() {
			continue
		}
		got := rs.Calls[i]
		if got.Verdict >= w.Min && got.Verdict <= w.Max {
			continue
		}
		out = append(out, Mismatch{Call: i + 1, Tool: got.Tool, Got: got.Verdict, Want: w.String(), Reasons: got.Reasons})
	}
	return out
}

// ReadReplayCases reads a file of test cases, one trace a line as
// ReadTraces reads them. name is the file's name in errors, which read
// "name:line: message". A case must want something of at least one call: a
// case that checks nothing would pass whatever the policy does.
func ReadReplayCases(name string, r io.Reader) ([]ReplayCase, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	wants := map[int][]Want{}
	workflow := map[int]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), maxTraceLine)
	line := 0
	for sc.Scan() {
		line++
		if len(trimSpace(sc.Bytes())) == 0 {
			continue
		}
		w, wf, err := caseLine(sc.Bytes())
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		wants[line], workflow[line] = w, wf
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", name, line+1, err)
	}
	// The lines are valid: ReadTraces gives the traces their defaults.
	trs, err := ReadTraces(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	out := make([]ReplayCase, 0, len(trs))
	for _, tr := range trs {
		out = append(out, ReplayCase{Trace: tr, Workflow: workflow[tr.Line], Wants: wants[tr.Line]})
	}
	return out, nil
}

// caseLine reads one line's expectations and workflow, refusing what
// ReadTraces would refuse, an unknown verdict, a "want…" key it does not
// know (a misspelt expectation must not be skipped) and a case that wants
// nothing.
func caseLine(b []byte) ([]Want, string, error) {
	var line struct {
		Workflow string                       `json:"workflow"`
		Calls    []map[string]json.RawMessage `json:"calls"`
	}
	if err := json.Unmarshal(b, &line); err != nil {
		return nil, "", err
	}
	wants := make([]Want, len(line.Calls))
	checked := false
	for i, call := range line.Calls {
		var tool string
		if err := json.Unmarshal(call["tool"], &tool); err != nil || tool == "" {
			return nil, "", fmt.Errorf("call %d has no tool", i+1)
		}
		w, err := callWant(call)
		if err != nil {
			return nil, "", fmt.Errorf("call %d (%s): %w", i+1, tool, err)
		}
		wants[i] = w
		checked = checked || w.Checks()
	}
	if !checked {
		return nil, "", fmt.Errorf("the case wants nothing: give a call \"want\", \"want_at_least\" or \"want_at_most\"")
	}
	return wants, line.Workflow, nil
}

// callWant reads a call's "want", "want_at_least" and "want_at_most".
func callWant(call map[string]json.RawMessage) (Want, error) {
	w := Want{Min: warden.Allow, Max: warden.Kill}
	keys := make([]string, 0, len(call))
	for k := range call {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !strings.HasPrefix(k, "want") {
			continue
		}
		var name string
		if err := json.Unmarshal(call[k], &name); err != nil {
			return w, fmt.Errorf("%s: want a verdict's name, got %s", k, call[k])
		}
		v, err := warden.ParseVerdict(name)
		if err != nil {
			return w, fmt.Errorf("%s: %w", k, err)
		}
		switch k {
		case "want":
			if _, ok := call["want_at_least"]; ok {
				return w, fmt.Errorf("want and want_at_least together: say one")
			}
			if _, ok := call["want_at_most"]; ok {
				return w, fmt.Errorf("want and want_at_most together: say one")
			}
			w.Min, w.Max = v, v
		case "want_at_least":
			w.Min = v
		case "want_at_most":
			w.Max = v
		default:
			return w, fmt.Errorf("unknown key %q (want one of want, want_at_least, want_at_most)", k)
		}
	}
	if w.Min > w.Max {
		return w, fmt.Errorf("want_at_least %s is above want_at_most %s", w.Min, w.Max)
	}
	return w, nil
}
