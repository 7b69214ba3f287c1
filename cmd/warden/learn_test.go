package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/warden-dev/warden"
	"github.com/warden-dev/warden/store"
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

// replayOutcome is how a workflow met a set of sessions: sessions with a
// call above allow and above flag, the escalated calls by cause, and a
// line per escalated call.
type replayOutcome struct {
	above, held int
	causes      map[string]int
	notes       []string
}

// escalationCause sorts a replayed call's reasons into why it escalated.
func escalationCause(reasons []string) string {
	r := strings.Join(reasons, "; ")
	switch {
	case strings.Contains(r, "is not in the workflow"):
		return "unseen tool"
	case strings.Contains(r, "not a legal next step"):
		return "unseen order"
	case strings.Contains(r, "budget"):
		return "budget"
	case strings.Contains(r, "comes from") || strings.Contains(r, "comes only from"):
		return "provenance"
	}
	return "other"
}

// escalated replays trs, each with its prompt as intent, against the
// workflow file.
func escalated(t *testing.T, file string, trs []supervisor.Trace) replayOutcome {
	t.Helper()
	w, err := workflows.Load(file)
	if err != nil {
		t.Fatalf("load %s: %v", file, err)
	}
	p := &supervisor.Policy{Workflow: w}
	o := replayOutcome{causes: map[string]int{}}
	for _, tr := range trs {
		v := warden.Allow
		for i, c := range supervisor.ReplaySession(p, tr, supervisor.ReplayOptions{PromptAsIntent: true}).Calls {
			if c.Verdict > warden.Allow {
				o.causes[escalationCause(c.Reasons)]++
				o.notes = append(o.notes, tr.ID+" call "+strconv.Itoa(i+1)+" "+c.Tool+": "+c.Verdict.String()+" "+strings.Join(c.Reasons, "; "))
			}
			v = warden.Max(v, c.Verdict)
		}
		if v > warden.Allow {
			o.above++
		}
		if v > warden.Flag {
			o.held++
		}
	}
	return o
}

// learnHeldOutBound is how many held-out AgentDojo tasks a workflow
// learned from the other half may escalate, per agent. Measured: banking
// 3 of 8, slack 2 of 10, travel 5 of 10, workspace 7 of 20, every one a
// step-up; 12 of the 22 calls for tools no training task used. The
// hand-written workflows escalate 3, 2, 0 and 1 of the same tasks.
var learnHeldOutBound = map[string]int{"banking": 3, "slack": 2, "travel": 5, "workspace": 7}

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
		if o := escalated(t, out, train); o.above > 0 {
			t.Errorf("%s: %d of the %d sessions learned from escalate:\n%s", agent, o.above, len(train), strings.Join(o.notes, "\n"))
		}
		learned := escalated(t, out, held)
		hand := escalated(t, "../../examples/agentdojo/"+agent+".yaml", held)
		t.Logf("%-9s learned from %2d tasks; of %2d held out, escalated: learned %2d (%2d held for approval; calls by cause %v), hand-written %2d (%2d held)",
			agent, len(train), len(held), learned.above, learned.held, learned.causes, hand.above, hand.held)
		if learned.above > learnHeldOutBound[agent] {
			t.Errorf("%s: the learned workflow escalates %d held-out tasks, want at most %d", agent, learned.above, learnHeldOutBound[agent])
		}
		if testing.Verbose() {
			for _, n := range learned.notes {
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

// TestLearnFromHistory learns from a bbolt history file (--db, and -c
// with the configuration whose history it is): the calls and
// the results warden recorded, so that an argument taken from an earlier
// result's field gets trusted_sources; warden validate accepts the
// proposal, and it replays the
// recorded sessions (warden replay --db) with every call allowed.
func TestLearnFromHistory(t *testing.T) {
	ctx := context.Background()
	db, dbFile := openHistory(t)
	for _, id := range []string{"h1", "h2", "h3"} {
		if err := db.CreateSession(ctx, store.Session{ID: id, Agent: "billing"}); err != nil {
			t.Fatal(err)
		}
		acct := "ACCT-" + id
		events := []store.Event{
			{Kind: store.KindCall, CallID: "1", Tool: "find_customer", Args: json.RawMessage(`{"name":"Ann"}`), Verdict: "allow"},
			{Kind: store.KindResult, CallID: "1", Data: json.RawMessage(`{"structured":{"account":"` + acct + `"}}`)},
			{Kind: store.KindCall, CallID: "2", Tool: "refund", Args: json.RawMessage(`{"account":"` + acct + `"}`), Verdict: "allow"},
			{Kind: store.KindResult, CallID: "2", Data: json.RawMessage(`{"text":"ok"}`)},
		}
		for _, e := range events {
			if _, err := db.Append(ctx, id, e); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(dbFile)
	out := filepath.Join(dir, "billing.yaml")
	if _, err := printed((&learnCmd{DB: dbFile, Agent: "billing", Headroom: 2, MinSupport: 2, Out: out}).Run); err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`start: ["refund"]`, `anytime: ["find_customer"]`, `"account": ["result:find_customer.account"]`, "from a result's field in 3 sessions"} {
		if !strings.Contains(string(y), want) {
			t.Errorf("the proposal lacks %s:\n%s", want, y)
		}
	}
	// The configuration whose history that file is, naming the proposal.
	cfg := filepath.Join(dir, "warden.yaml")
	writeFile(t, cfg, strings.Replace(configText("http://127.0.0.1:1/mcp", dir, "billing.yaml"), "- name: a\n", "- name: billing\n", 1))
	if v, err := printed((&validateCmd{Config: cfg}).Run); err != nil || !strings.Contains(v, "1 workflows") {
		t.Fatalf("warden validate of the proposal (%v): %s", err, v)
	}
	if again, err := printed((&learnCmd{Config: cfg, Agent: "billing", Since: "1h", Headroom: 2, MinSupport: 2}).Run); err != nil || again != string(y) {
		t.Fatalf("learn -c (%v) differs from learn --db:\n%s", err, again)
	}
	replayed, err := printed((&replayCmd{DB: dbFile, Workflow: out}).Run)
	if err != nil || !strings.Contains(replayed, "3 sessions, 6 calls replayed; 0 sessions decided differently") {
		t.Fatalf("replay --db against the proposal (%v):\n%s", err, replayed)
	}
}

// TestLearnCases: --cases writes the sessions learned from as warden test
// cases (intent and prompt kept, the --out workflow named, each call
// wanting at most allow); warden test passes them against the proposal
// and fails them against a tightened one.
func TestLearnCases(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "t.jsonl")
	var trs []supervisor.Trace
	for _, s := range []struct{ id, intent, prompt, item string }{
		{"by-intent", "clean up the items", "", "A1"},
		{"by-prompt", "", "delete what is listed", "B2"},
	} {
		listed := `[{"id": "` + s.item + `"}]`
		trs = append(trs, supervisor.Trace{ID: s.id, Agent: "ops", Intent: s.intent, Prompt: s.prompt, Calls: []supervisor.TraceCall{
			{Tool: "list_items", Output: &listed},
			{Tool: "delete_item", Args: map[string]any{"id": s.item}},
		}})
	}
	writeTraces(t, in, trs)
	policy := filepath.Join(dir, "policy")
	wfFile, casesFile := filepath.Join(policy, "agent.yaml"), filepath.Join(policy, "tests", "agent.jsonl")
	if err := os.Mkdir(policy, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := printed((&learnCmd{Traces: in, Headroom: 2, MinSupport: 2, Out: wfFile, Cases: casesFile}).Run); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(casesFile)
	if err != nil {
		t.Fatal(err)
	}
	cases, err := supervisor.ReadReplayCases(casesFile, f)
	f.Close()
	if err != nil || len(cases) != 2 {
		t.Fatalf("the cases do not read (%v): %d of them", err, len(cases))
	}
	for i, c := range cases {
		if c.ID != trs[i].ID || c.Agent != "ops" || c.Intent != trs[i].Intent || c.Prompt != trs[i].Prompt || c.Workflow != "agent.yaml" ||
			len(c.Calls) != 2 || c.Calls[1].Args["id"] != trs[i].Calls[1].Args["id"] || *c.Calls[0].Output != *trs[i].Calls[0].Output {
			t.Errorf("case %d is not the session learned from: %+v", i+1, c)
		}
		for j, w := range c.Wants {
			if w.Min != warden.Allow || w.Max != warden.Allow {
				t.Errorf("case %s call %d wants %s, want at most allow", c.ID, j+1, w)
			}
		}
	}
	if out, err := printed((&testCmd{Dir: policy}).Run); err != nil || !strings.Contains(out, "2 cases, 2 passed, 0 failed (4 calls checked)") {
		t.Fatalf("warden test against the proposal (%v):\n%s", err, out)
	}
	learned, err := os.ReadFile(wfFile)
	if err != nil {
		t.Fatal(err)
	}
	// Each tightening escalates a call the sessions made.
	for _, m := range []struct{ name, from, to, fail string }{
		{"session budget", "max_calls: 4", "max_calls: 1", "call 2 delete_item: got step_up"},
		{"provenance", `"id": ["result:list_items.id"]`, `"id": ["intent"]`, "call 2 delete_item: got step_up"},
		{"tool dropped", `tool: "list_items"`, `tool: "list_other_items"`, "call 1 list_items: got step_up"},
	} {
		t.Run(m.name, func(t *testing.T) {
			tight := strings.Replace(string(learned), m.from, m.to, 1)
			if tight == string(learned) {
				t.Fatalf("%q is not in the proposal:\n%s", m.from, learned)
			}
			writeFile(t, wfFile, tight)
			out, err := printed((&testCmd{Dir: policy}).Run)
			var ex exitError
			if !errors.As(err, &ex) || ex.code != 1 || !strings.Contains(out, m.fail) {
				t.Fatalf("warden test against the tightened workflow: %v, want exit 1 with %q:\n%s", err, m.fail, out)
			}
		})
	}
}
