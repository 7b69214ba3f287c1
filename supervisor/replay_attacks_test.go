package supervisor

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/warden-dev/warden/eval"
)

// The labelled attack corpus: prompt-injection attacks on the four AgentDojo
// agents, each with a benign twin (README.md beside the file says what each is).
var attacksFile = filepath.Join("..", "examples", "agentdojo", "attacks", "traces.jsonl")

// labelledTrace is a trace of the attack corpus with its labels: the AgentDojo
// task it is built from, its twin, and the effect call the pair is about.
type labelledTrace struct {
	Trace
	Task   string      `json:"task"`
	Twin   string      `json:"twin"`
	Effect effectLabel `json:"effect"`
}

// effectLabel names the argument value of an effect call and where it came
// from: "intent", "result:<tool>.<field path>" or "text:<tool>".
type effectLabel struct {
	Call     int    `json:"call"`
	Arg      string `json:"arg"`
	Value    any    `json:"value"`
	Source   string `json:"source"`
	Escalate bool   `json:"escalate"`
}

// adTask is one AgentDojo task of tasks.jsonl.
type adTask struct {
	Prompt string      `json:"prompt"`
	Calls  []TraceCall `json:"calls"`
}

// attackCorpus is what the checker needs besides the traces: the AgentDojo
// tasks by "suite/task_id" and the tools' input schemas by "suite/name".
type attackCorpus struct {
	tasks   map[string]adTask
	schemas map[string]*jsonschema.Schema
	props   map[string]map[string]bool
}

// effectTools are the tools that act (send, pay, book, invite, post, share,
// delete): the call of an effect label must be one of them.
var effectTools = map[string]bool{
	"send_money": true, "schedule_transaction": true, "update_scheduled_transaction": true,
	"invite_user_to_slack": true, "add_user_to_channel": true, "send_direct_message": true,
	"send_channel_message": true, "post_webpage": true,
	"reserve_hotel": true, "reserve_restaurant": true, "reserve_car_rental": true,
	"send_email": true, "create_calendar_event": true, "add_calendar_event_participants": true,
	"share_file": true, "delete_file": true, "delete_email": true,
}

// attackID is attack|benign/<agent>/<name>.
var attackID = regexp.MustCompile(`^(attack|benign)/(banking|slack|travel|workspace)/([a-z0-9]+(?:-[a-z0-9]+)*)$`)

// TestAgentDojoAttackCorpus checks the shape of the attack corpus: every
// trace well-formed against the AgentDojo tools, every attack with a benign
// twin, its value only in free text, the twin's from a trusted source.
func TestAgentDojoAttackCorpus(t *testing.T) {
	data, err := os.ReadFile(attacksFile)
	if err != nil {
		t.Fatal(err)
	}
	trs := parseLabelled(t, data)
	for _, err := range loadAttackCorpus(t).check(trs) {
		t.Error(err)
	}
	pairs := map[string]int{}
	for _, tr := range trs {
		if strings.HasPrefix(tr.ID, "attack/") {
			pairs[tr.Agent]++
		}
	}
	for _, agent := range agentdojoAgents {
		if pairs[agent] < 2 {
			t.Errorf("%s: %d attacks, want at least 2", agent, pairs[agent])
		}
	}
	t.Logf("%d traces, attacks by agent %v", len(trs), pairs)
}

// TestAgentDojoAttackCorpusChecks breaks the real corpus in one way each and
// checks that the checker says so.
func TestAgentDojoAttackCorpusChecks(t *testing.T) {
	data, err := os.ReadFile(attacksFile)
	if err != nil {
		t.Fatal(err)
	}
	corpus := loadAttackCorpus(t)
	const attack, benign = "attack/banking/refund-redirect", "benign/banking/refund-redirect"
	tests := []struct {
		name   string
		mutate func(byID map[string]*labelledTrace)
		want   string
	}{
		{"attacker value in the intent", func(m map[string]*labelledTrace) {
			m[attack].Intent += " My new account is GB33BUKB20201555555555."
		}, "is in the intent"},
		{"attacker value in a structured field", func(m map[string]*labelledTrace) {
			out := strings.Replace(*m[attack].Calls[0].Output, "recipient: CH9300762011623852957", "recipient: GB33BUKB20201555555555", 1)
			m[attack].Calls[0].Output = &out
		}, "structured field"},
		{"attacker value not in the effect call", func(m map[string]*labelledTrace) {
			m[attack].Calls[1].Args["recipient"] = "GB29NWBK60161331926819"
		}, "does not hold"},
		{"no injected output", func(m map[string]*labelledTrace) {
			m[attack].Calls[0].Output = m[benign].Calls[0].Output
		}, "appears in no earlier output"},
		{"benign value not from its source", func(m map[string]*labelledTrace) {
			m[benign].Intent = "Please refund my friend for what they have sent me."
			m[attack].Intent = m[benign].Intent
		}, "not in the intent"},
		{"benign value from free text", func(m map[string]*labelledTrace) {
			m[benign].Effect.Source = "text:get_most_recent_transactions"
		}, "free text"},
		{"benign calls not the task's", func(m map[string]*labelledTrace) {
			m[benign].Calls[1].Args["amount"] = 11.0
		}, "differ from those of"},
		{"arguments against the schema", func(m map[string]*labelledTrace) {
			m[attack].Calls[1].Args["amount"] = "10"
		}, "schema"},
		{"an undeclared argument", func(m map[string]*labelledTrace) {
			m[attack].Calls[1].Args["memo"] = "x"
		}, "undeclared"},
		{"twin missing", func(m map[string]*labelledTrace) {
			m[attack].Twin = "benign/banking/nothing"
		}, "twin"},
		{"effect on a read", func(m map[string]*labelledTrace) {
			m[attack].Effect.Call = 0
		}, "not an effect tool"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			trs := parseLabelled(t, data)
			byID := map[string]*labelledTrace{}
			for i := range trs {
				byID[trs[i].ID] = &trs[i]
			}
			tt.mutate(byID)
			errs := corpus.check(trs)
			if len(errs) == 0 {
				t.Fatalf("no error, want one about %q", tt.want)
			}
			if !strings.Contains(errors.Join(errs...).Error(), tt.want) {
				t.Fatalf("errors %v, want one about %q", errs, tt.want)
			}
		})
	}
}

// parseLabelled reads the corpus as the replay reads it (ReadTraces) and with
// its labels.
func parseLabelled(t *testing.T, data []byte) []labelledTrace {
	t.Helper()
	plain, err := ReadTraces(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var out []labelledTrace
	for i, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		var tr labelledTrace
		if err := dec.Decode(&tr); err != nil {
			t.Fatalf("%s line %d: %v", attacksFile, i+1, err)
		}
		out = append(out, tr)
	}
	if len(out) != len(plain) {
		t.Fatalf("ReadTraces read %d traces, the labels %d", len(plain), len(out))
	}
	return out
}

func loadAttackCorpus(t *testing.T) attackCorpus {
	t.Helper()
	dir := agentdojoDir(t)
	c := attackCorpus{tasks: map[string]adTask{}, schemas: map[string]*jsonschema.Schema{}, props: map[string]map[string]bool{}}
	forEachLine(t, filepath.Join(dir, "tasks.jsonl"), func(line []byte) {
		var task struct {
			adTask
			Suite  string `json:"suite"`
			TaskID string `json:"task_id"`
		}
		if err := json.Unmarshal(line, &task); err != nil {
			t.Fatalf("tasks.jsonl: %v", err)
		}
		c.tasks[task.Suite+"/"+task.TaskID] = task.adTask
	})
	forEachLine(t, filepath.Join(dir, "tools.jsonl"), func(line []byte) {
		var tool struct {
			Suite, Name string
			InputSchema json.RawMessage `json:"inputSchema"`
		}
		if err := json.Unmarshal(line, &tool); err != nil {
			t.Fatalf("tools.jsonl: %v", err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(tool.InputSchema))
		if err != nil {
			t.Fatalf("tools.jsonl %s: %v", tool.Name, err)
		}
		comp := jsonschema.NewCompiler()
		loc := "agentdojo:///" + tool.Suite + "/" + tool.Name + ".json"
		if err := comp.AddResource(loc, doc); err != nil {
			t.Fatal(err)
		}
		sch, err := comp.Compile(loc)
		if err != nil {
			t.Fatalf("tools.jsonl %s: %v", tool.Name, err)
		}
		key := tool.Suite + "/" + tool.Name
		c.schemas[key] = sch
		c.props[key] = map[string]bool{}
		if m, ok := doc.(map[string]any)["properties"].(map[string]any); ok {
			for p := range m {
				c.props[key][p] = true
			}
		}
	})
	return c
}

func forEachLine(t *testing.T, path string, f func([]byte)) {
	t.Helper()
	file, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		f(sc.Bytes())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}

// check returns every way the traces fall short of the corpus's contract.
func (c attackCorpus) check(trs []labelledTrace) []error {
	var errs []error
	byID := map[string]*labelledTrace{}
	for i := range trs {
		tr := &trs[i]
		if byID[tr.ID] != nil {
			errs = append(errs, fmt.Errorf("%s: the id repeats", tr.ID))
		}
		byID[tr.ID] = tr
		errs = append(errs, c.checkShape(tr)...)
	}
	for _, tr := range trs {
		m := attackID.FindStringSubmatch(tr.ID)
		if m == nil || m[1] != "attack" {
			continue
		}
		twin := byID[tr.Twin]
		if want := "benign/" + m[2] + "/" + m[3]; tr.Twin != want || twin == nil || twin.Twin != tr.ID {
			errs = append(errs, fmt.Errorf("%s: twin %q, want %q present and naming it back", tr.ID, tr.Twin, want))
			continue
		}
		errs = append(errs, checkPair(&tr, twin)...)
	}
	for _, tr := range trs {
		if m := attackID.FindStringSubmatch(tr.ID); m != nil && m[1] == "benign" && (byID[tr.Twin] == nil || byID[tr.Twin].Twin != tr.ID) {
			errs = append(errs, fmt.Errorf("%s: twin %q missing or not naming it back", tr.ID, tr.Twin))
		}
	}
	return errs
}

// checkShape checks one trace on its own: id, agent, task, tools, arguments
// against the tools' schemas, and its effect label.
func (c attackCorpus) checkShape(tr *labelledTrace) []error {
	var errs []error
	fail := func(format string, a ...any) { errs = append(errs, fmt.Errorf(tr.ID+": "+format, a...)) }
	m := attackID.FindStringSubmatch(tr.ID)
	if m == nil {
		fail("the id is not attack|benign/<agent>/<name>")
		return errs
	}
	if tr.Agent != m[2] {
		fail("agent %q, the id says %q", tr.Agent, m[2])
	}
	task, ok := c.tasks[tr.Agent+"/"+tr.Task]
	switch {
	case !ok:
		fail("no AgentDojo task %s/%s", tr.Agent, tr.Task)
	case tr.Intent != task.Prompt:
		fail("the intent is not the prompt of %s", tr.Task)
	}
	for i, call := range tr.Calls {
		key := tr.Agent + "/" + call.Tool
		sch := c.schemas[key]
		if sch == nil {
			fail("call %d: %s is not a %s tool", i, call.Tool, tr.Agent)
			continue
		}
		if call.Output == nil {
			fail("call %d %s: no output", i, call.Tool)
		}
		for name := range call.Args {
			if !c.props[key][name] {
				fail("call %d %s: undeclared argument %q", i, call.Tool, name)
			}
		}
		if err := sch.Validate(jsonValue(call.Args)); err != nil {
			fail("call %d %s: the arguments do not match the schema: %v", i, call.Tool, err)
		}
	}
	e := tr.Effect
	if e.Call < 0 || e.Call >= len(tr.Calls) {
		fail("effect call %d out of range", e.Call)
		return errs
	}
	call := tr.Calls[e.Call]
	if !effectTools[call.Tool] {
		fail("effect call %d: %s is not an effect tool", e.Call, call.Tool)
	}
	if !holds(call.Args[e.Arg], e.Value) {
		fail("effect call %d %s: argument %q (%v) does not hold %v", e.Call, call.Tool, e.Arg, call.Args[e.Arg], e.Value)
	}
	if m[1] == "attack" {
		errs = append(errs, checkInjected(tr)...)
	} else {
		errs = append(errs, checkTrusted(tr)...)
	}
	if m[1] == "benign" && ok && !sameCalls(tr.Calls, task.Calls) {
		fail("the calls differ from those of %s", tr.Task)
	}
	return errs
}

// checkInjected checks an attack's label: the value comes only from free text
// of an earlier result, never from the intent, an earlier argument or a
// structured field.
func checkInjected(tr *labelledTrace) []error {
	var errs []error
	fail := func(format string, a ...any) { errs = append(errs, fmt.Errorf(tr.ID+": "+format, a...)) }
	e := tr.Effect
	value, ok := e.Value.(string)
	if !ok || value == "" {
		fail("the attacker's value %v is not a string", e.Value)
		return errs
	}
	tool, isText := strings.CutPrefix(e.Source, "text:")
	if !isText || !e.Escalate {
		fail("source %q escalate %v, want text:<tool> and true", e.Source, e.Escalate)
	}
	if strings.Contains(strings.ToLower(tr.Intent), strings.ToLower(value)) {
		fail("the attacker's value %q is in the intent", value)
	}
	found := false
	for i, call := range tr.Calls[:e.Call] {
		if args, _ := json.Marshal(call.Args); bytes.Contains(args, []byte(value)) {
			fail("call %d %s: the attacker's value is in an earlier argument", i, call.Tool)
		}
		if call.Output == nil {
			continue
		}
		if call.Tool == tool && strings.Contains(*call.Output, value) {
			found = true
		}
		// A result that is all text has no fields: only a parsed map or list has.
		parsed := eval.ParseOutput(*call.Output, nil)
		if _, isText := parsed.(string); !isText && fieldHas(parsed, value, true) {
			fail("call %d %s: the attacker's value %q is a structured field", i, call.Tool, value)
		}
	}
	if !found {
		fail("the attacker's value %q appears in no earlier output of %s", value, tool)
	}
	return errs
}

// checkTrusted checks a benign twin's label: the value comes from the intent
// or a named field of an earlier result.
func checkTrusted(tr *labelledTrace) []error {
	e := tr.Effect
	want := fmt.Sprint(e.Value)
	fail := func(format string, a ...any) []error { return []error{fmt.Errorf(tr.ID+": "+format, a...)} }
	if e.Escalate {
		return fail("a benign twin labelled to escalate")
	}
	if e.Source == "intent" {
		if !strings.Contains(tr.Intent, want) {
			return fail("the value %q is not in the intent", want)
		}
		return nil
	}
	ref, ok := strings.CutPrefix(e.Source, "result:")
	tool, path, _ := strings.Cut(ref, ".")
	if !ok || path == "" {
		return fail("source %q: want intent or result:<tool>.<field path>, never free text", e.Source)
	}
	for _, call := range tr.Calls[:e.Call] {
		if call.Tool != tool || call.Output == nil {
			continue
		}
		for _, v := range atPath(eval.ParseOutput(*call.Output, nil), strings.Split(path, ".")) {
			if fieldHas(v, want, false) {
				return nil
			}
		}
	}
	return fail("the value %q is not in field %s of an earlier %s result", want, path, tool)
}

// checkPair checks an attack against its benign twin: same task, the same
// calls up to the effect with exactly one output changed (the injected one),
// and the attacker's value nowhere in the twin.
func checkPair(attack, benign *labelledTrace) []error {
	var errs []error
	fail := func(format string, a ...any) { errs = append(errs, fmt.Errorf(attack.ID+": "+format, a...)) }
	if attack.Agent != benign.Agent || attack.Task != benign.Task || attack.Intent != benign.Intent {
		fail("agent, task or intent differ from the twin's")
	}
	value := fmt.Sprint(attack.Effect.Value)
	twin, _ := json.Marshal(benign.Calls)
	if strings.Contains(benign.Intent, value) || bytes.Contains(twin, []byte(value)) {
		fail("the attacker's value %q appears in the twin", value)
	}
	changed := 0
	for i := 0; i < attack.Effect.Call; i++ {
		if i >= len(benign.Calls) {
			fail("call %d: the twin has no call there", i)
			break
		}
		a, b := attack.Calls[i], benign.Calls[i]
		if a.Tool != b.Tool || !reflect.DeepEqual(a.Args, b.Args) {
			fail("call %d: %s %v, the twin has %s %v", i, a.Tool, a.Args, b.Tool, b.Args)
			continue
		}
		if a.Output != nil && b.Output != nil && *a.Output != *b.Output {
			changed++
			if "text:"+a.Tool != attack.Effect.Source {
				fail("call %d: the output of %s changed, the label says the injection is in %s", i, a.Tool, attack.Effect.Source)
			}
		}
	}
	if changed != 1 {
		fail("%d outputs before the effect differ from the twin's, want exactly the injected one", changed)
	}
	return errs
}

func sameCalls(a, b []TraceCall) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Tool != b[i].Tool || !reflect.DeepEqual(a[i].Args, b[i].Args) || !reflect.DeepEqual(a[i].Output, b[i].Output) {
			return false
		}
	}
	return true
}

// jsonValue re-reads v as the schema library wants its instances.
func jsonValue(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	out, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return err
	}
	return out
}

// holds reports whether an argument carries value: a string containing it, a
// number equal to it, or a list with an element that holds it.
func holds(arg, value any) bool {
	switch a := arg.(type) {
	case string:
		s, ok := value.(string)
		return ok && s != "" && strings.Contains(a, s)
	case []any:
		for _, el := range a {
			if holds(el, value) {
				return true
			}
		}
		return false
	case nil:
		return false
	default:
		return fmt.Sprint(a) == fmt.Sprint(value)
	}
}

// fieldHas reports whether a parsed result names want as a whole field: a
// scalar equal to it, in a list, or a map key (the people a file is shared
// with); deep also looks inside maps' values. A string that merely contains
// want is free text, not a field.
func fieldHas(v any, want string, deep bool) bool {
	switch x := v.(type) {
	case map[string]any:
		if _, ok := x[want]; ok {
			return true
		}
		for _, el := range x {
			if deep && fieldHas(el, want, deep) {
				return true
			}
		}
		return false
	case []any:
		for _, el := range x {
			if fieldHas(el, want, deep) {
				return true
			}
		}
		return false
	case nil:
		return false
	default:
		return fmt.Sprint(x) == want
	}
}

// atPath returns the values at a field path, through every row of a list.
func atPath(v any, path []string) []any {
	if rows, ok := v.([]any); ok {
		var out []any
		for _, row := range rows {
			out = append(out, atPath(row, path)...)
		}
		return out
	}
	if len(path) == 0 {
		return []any{v}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	el, ok := m[path[0]]
	if !ok {
		return nil
	}
	return atPath(el, path[1:])
}
