package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/warden-dev/warden"
	"github.com/warden-dev/warden/supervisor"
	"github.com/warden-dev/warden/workflows"
)

// writeTraces writes traces as JSONL for --traces.
func writeTraces(t *testing.T, path string, trs []supervisor.Trace) {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, tr := range trs {
		if err := enc.Encode(tr); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// escalated replays trs against the workflow file and counts the sessions
// with a call above allow, and those with a call above flag.
func escalated(t *testing.T, file string, trs []supervisor.Trace) (above, held int, notes []string) {
	t.Helper()
	w, err := workflows.Load(file)
	if err != nil {
		t.Fatalf("load %s: %v", file, err)
	}
	p := &supervisor.Policy{Workflow: w}
	for _, tr := range trs {
		v := warden.Allow
		for i, c := range supervisor.ReplaySession(p, tr, supervisor.ReplayOptions{PromptAsIntent: true}).Calls {
			if c.Verdict > warden.Allow {
				notes = append(notes, tr.ID+" call "+strconv.Itoa(i+1)+" "+c.Tool+": "+c.Verdict.String()+" "+strings.Join(c.Reasons, "; "))
			}
			v = warden.Max(v, c.Verdict)
		}
		if v > warden.Allow {
			above++
		}
		if v > warden.Flag {
			held++
		}
	}
	return above, held, notes
}

// TestLearnAgentDojoHeldOut is issue 8's proof: per AgentDojo agent, learn
// a workflow with the CLI from the even-numbered benign tasks, check that
// they replay with every call allowed, and report how many of the
// odd-numbered (held-out) tasks the learned workflow escalates, beside the
// hand-written examples/agentdojo workflow on the same half.
func TestLearnAgentDojoHeldOut(t *testing.T) {
	corpus := "../../../shared/corpus/agentdojo/tasks.jsonl"
	f, err := os.Open(corpus)
	if err != nil {
		t.Skipf("the AgentDojo corpus is absent (%v): it ships in shared/ beside the repository", err)
	}
	all, err := supervisor.ReadTraces(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, agent := range []string{"banking", "slack", "travel", "workspace"} {
		var train, held []supervisor.Trace
		for _, tr := range all {
			if tr.Agent != agent {
				continue
			}
			n, err := strconv.Atoi(strings.TrimPrefix(tr.TaskID, "user_task_"))
			if err != nil {
				t.Fatalf("task id %q: %v", tr.TaskID, err)
			}
			if n%2 == 0 {
				train = append(train, tr)
			} else {
				held = append(held, tr)
			}
		}
		if len(train) == 0 || len(held) == 0 {
			t.Fatalf("%s: %d tasks to learn from, %d held out", agent, len(train), len(held))
		}
		in := filepath.Join(dir, agent+"-train.jsonl")
		writeTraces(t, in, train)
		out := filepath.Join(dir, agent+".yaml")
		if _, err := printed((&learnCmd{Traces: in, PromptAsIntent: true, Headroom: 2, MinSupport: 2, Out: out}).Run); err != nil {
			t.Fatalf("%s: learn: %v", agent, err)
		}
		if above, _, notes := escalated(t, out, train); above > 0 {
			t.Errorf("%s: %d of the %d sessions learned from escalate:\n%s", agent, above, len(train), strings.Join(notes, "\n"))
		}
		lAbove, lHeld, lNotes := escalated(t, out, held)
		hAbove, hHeld, _ := escalated(t, "../../examples/agentdojo/"+agent+".yaml", held)
		t.Logf("%-9s learned from %2d tasks; held-out %2d: learned escalates %2d (%2d step_up or more), hand-written %2d (%2d step_up or more)",
			agent, len(train), len(held), lAbove, lHeld, hAbove, hHeld)
		if testing.Verbose() {
			for _, n := range lNotes {
				t.Logf("  learned: %s", n)
			}
		}
	}
}

// TestLearnCommand: --json describes the same proposal the YAML writes,
// and an input of several agents needs --agent.
func TestLearnCommand(t *testing.T) {
	dir := t.TempDir()
	text := `[{"id": "A1"}]`
	calls := []supervisor.TraceCall{{Tool: "list_items", Output: &text}, {Tool: "delete_item", Args: map[string]any{"id": "A1"}}}
	in := filepath.Join(dir, "t.jsonl")
	writeTraces(t, in, []supervisor.Trace{{ID: "1", Agent: "ops", Calls: calls}, {ID: "2", Agent: "ops", Calls: calls}, {ID: "3", Agent: "other", Calls: calls[:1]}})
	if _, err := printed((&learnCmd{Traces: in, Headroom: 2, MinSupport: 2}).Run); err == nil || !strings.Contains(err.Error(), "several agents (ops, other): say --agent") {
		t.Fatalf("got %v, want a request for --agent", err)
	}
	out, err := printed((&learnCmd{Traces: in, Agent: "ops", Headroom: 2, MinSupport: 2, JSON: true}).Run)
	if err != nil {
		t.Fatal(err)
	}
	var l workflows.Learned
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatalf("--json: %v\n%s", err, out)
	}
	if l.Agent != "ops" || l.Sessions != 2 || len(l.Steps) != 2 || l.Steps[0].Name != "delete_item" || l.Steps[0].Start != 2 ||
		len(l.Steps[0].Trusted) != 1 || l.Steps[0].Trusted[0].Sources[0] != "result:list_items.id" {
		t.Fatalf("--json: %s", out)
	}
	y, err := printed((&learnCmd{Traces: in, Agent: "ops", Headroom: 2, MinSupport: 2}).Run)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := workflows.Parse("out.yaml", []byte(y)); err != nil || !strings.Contains(y, `"id": ["result:list_items.id"]`) {
		t.Fatalf("YAML (%v):\n%s", err, y)
	}
	if _, err := printed((&learnCmd{Traces: in, Agent: "ops", Headroom: 0.5, MinSupport: 2}).Run); err == nil {
		t.Fatal("--headroom 0.5 accepted")
	}
}
