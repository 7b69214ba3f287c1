package supervisor

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// recordedVerdicts holds every call's verdict, reasons and step from a
// replay of the AgentDojo corpora by the replay code before its speed work
// (commit dff74b1): what the faster code must give, call for call.
var recordedVerdicts = filepath.Join("testdata", "agentdojo", "verdicts.jsonl")

// verdictRecord is one replayed session of the record, with how it was
// replayed.
type verdictRecord struct {
	Mode    string          `json:"mode"`
	Session ReplayedSession `json:"session"`
}

// replayCorpora replays the 97 benign tasks (without intent, with their
// prompt as intent, and with every step-up approved) and the labelled
// attacks (with their declared intents) through the example workflows.
func replayCorpora(t *testing.T) []verdictRecord {
	t.Helper()
	attacks, err := os.ReadFile(attacksFile)
	if err != nil {
		t.Fatal(err)
	}
	modes := []struct {
		name   string
		traces []byte
		opts   ReplayOptions
	}{
		{"benign", agentdojoTraces(t), ReplayOptions{}},
		{"benign-intent", agentdojoTraces(t), ReplayOptions{PromptAsIntent: true}},
		{"benign-intent-approved", agentdojoTraces(t), ReplayOptions{PromptAsIntent: true, ApproveStepUps: true}},
		{"attacks", attacks, ReplayOptions{}},
	}
	var out []verdictRecord
	for _, m := range modes {
		for _, agent := range agentdojoAgents {
			opts := m.opts
			opts.Agent = agent
			sessions, _, err := Replay(examplePolicy(t, agent, nil), bytes.NewReader(m.traces), opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range sessions {
				if s.Agent == agent {
					out = append(out, verdictRecord{Mode: m.name, Session: s})
				}
			}
		}
	}
	return out
}

// TestReplayRecordedVerdicts holds replay to the record: every call of the
// corpora gets the verdict, reasons and step it got before. Run with
// WARDEN_RECORD_VERDICTS=1 to rewrite the record after a change of the
// example workflows that is meant to change verdicts.
func TestReplayRecordedVerdicts(t *testing.T) {
	got := replayCorpora(t)
	if os.Getenv("WARDEN_RECORD_VERDICTS") == "1" {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		for _, r := range got {
			if err := enc.Encode(r); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(recordedVerdicts, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("recorded %d sessions in %s", len(got), recordedVerdicts)
	}
	data, err := os.ReadFile(recordedVerdicts)
	if err != nil {
		t.Fatal(err)
	}
	var want []verdictRecord
	dec := json.NewDecoder(bytes.NewReader(data))
	for dec.More() {
		var r verdictRecord
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("%s: %v", recordedVerdicts, err)
		}
		want = append(want, r)
	}
	if len(got) != len(want) {
		t.Fatalf("replayed %d sessions, the record has %d", len(got), len(want))
	}
	calls := 0
	for i := range want {
		w, g := want[i], got[i]
		where := fmt.Sprintf("%s %s", w.Mode, w.Session.ID)
		if g.Mode != w.Mode || g.Session.ID != w.Session.ID || len(g.Session.Calls) != len(w.Session.Calls) {
			t.Errorf("%s: replayed %s %s with %d calls, recorded %d", where, g.Mode, g.Session.ID, len(g.Session.Calls), len(w.Session.Calls))
			continue
		}
		for j := range w.Session.Calls {
			calls++
			if !reflect.DeepEqual(g.Session.Calls[j], w.Session.Calls[j]) {
				t.Errorf("%s call %d: got %+v, recorded %+v", where, j, g.Session.Calls[j], w.Session.Calls[j])
			}
		}
	}
	if calls == 0 {
		t.Fatal("the record holds no calls")
	}
	t.Logf("%d sessions, %d calls as recorded", len(want), calls)
}
