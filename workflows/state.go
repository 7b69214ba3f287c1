package workflows

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/warden-dev/warden"
	"github.com/warden-dev/warden/eval"
)

// startStep is the virtual step a session sits on before its first call;
// its successors are the workflow's start steps. Step names cannot contain
// parentheses, so it never clashes with a real step.
const startStep = "(start)"

// recentMax bounds the history kept in State, so a long session's state
// stays small (the full history lives in the store).
const recentMax = 16

// lastResultMax bounds the size of a result text kept for last(tool).
const lastResultMax = 8 << 10

// SessionInfo identifies the session a workflow runs in.
type SessionInfo struct {
	ID         string    `json:"id"`
	Agent      string    `json:"agent"`
	RemoteAddr string    `json:"remote_addr,omitempty"`
	Started    time.Time `json:"started"`
	// Intent is the task the agent framework declared; nil when none.
	Intent *Intent `json:"intent,omitempty"`
}

// Intent is the task that the agent framework (the code that runs the
// agent, not the model) declared for a session: the user's request in
// the user's words and, optionally, what the task needs. It can only
// narrow what the workflow allows: a call it does not cover steps up, and
// nothing it says lets through a call the workflow would not.
type Intent struct {
	// Request is the user's request.
	Request string `json:"request,omitempty"`
	// Actions are tool name patterns (globs) the task needs; when set, a
	// tool call that none matches steps up.
	Actions []string `json:"actions,omitempty"`
	// Recipients and Amounts are values the user named: for rules.
	Recipients []string  `json:"recipients,omitempty"`
	Amounts    []float64 `json:"amounts,omitempty"`
}

// The kinds of call: every route to an upstream is decided.
const (
	KindTool     = "tool"     // tools/call
	KindResource = "resource" // resources/read
	KindPrompt   = "prompt"   // prompts/get
)

// Call is one call as the decision sees it: a tool call, or a resource
// read or prompt get (Kind). Tool is the tool's name, the resource's URI or
// the prompt's name.
type Call struct {
	Kind     string         `json:"kind,omitempty"` // "" is a tool call
	Tool     string         `json:"tool"`
	Args     map[string]any `json:"args,omitempty"`
	Upstream string         `json:"upstream,omitempty"`
	// Provenance says where the session's values came from, for from()
	// and the effect checks; nil when it is not tracked.
	Provenance Provenance `json:"-"`
}

// kind is the call's kind, KindTool when unset.
func (c Call) kind() string {
	if c.Kind == "" {
		return KindTool
	}
	return c.Kind
}

// what names the call in reasons: `tool "x"`, `resource "kb://…"`.
func (c Call) what() string { return fmt.Sprintf("%s %q", c.kind(), c.Tool) }

// Result is what a tool returned: its text and, when the tool gives it,
// MCP structuredContent.
type Result struct {
	Text       string `json:"text,omitempty"`
	Structured any    `json:"structured,omitempty"`
	IsError    bool   `json:"is_error,omitempty"`
	// Parse, when set, is the parse of this Text and Structured that the
	// caller shares (replay shares one per distinct text across
	// sessions); nil makes Observe parse the result on its own.
	Parse *eval.ParsedResult `json:"-"`
}

// ToolHistory is what the session remembers of one tool, for the history
// helpers called, count, last and since. LastResult is parsed when
// last(tool).result first reads it (or the state is marshalled).
type ToolHistory struct {
	Count      int            `json:"count"`
	LastAt     time.Time      `json:"last_at"`
	LastArgs   map[string]any `json:"last_args,omitempty"`
	LastResult any            `json:"last_result,omitempty"`
}

// Event is one entry of the bounded recent history.
type Event struct {
	Tool    string         `json:"tool"`
	Step    string         `json:"step,omitempty"`
	Verdict warden.Verdict `json:"verdict"`
	At      time.Time      `json:"at"`
}

// State is a session's position in its workflow. It is a value: Decide and
// Observe return a new State and never change the one given. It marshals to
// JSON so it can be persisted with the session and resumed after a restart.
type State struct {
	Session    SessionInfo            `json:"session"`
	Steps      []string               `json:"steps"` // the current step set (never empty)
	Vars       map[string]any         `json:"vars,omitempty"`
	StepCounts map[string]int         `json:"step_counts,omitempty"`
	Tools      map[string]ToolHistory `json:"tools,omitempty"`
	Calls      int                    `json:"calls"` // calls that went ahead
	Recent     []Event                `json:"recent,omitempty"`
	Killed     bool                   `json:"killed,omitempty"`
	KillReason string                 `json:"kill_reason,omitempty"`
	// Signals are the session's post-authentication signals, newest last
	// (at most maxSignals): its risk, which halves every HalfLife (the
	// workflow's, kept here so that expressions see the same risk).
	Signals  []Signal      `json:"signals,omitempty"`
	HalfLife time.Duration `json:"half_life,omitempty"`

	// sharedVars says Vars is still the map of the state this was cloned
	// from: most calls bind nothing, so clone leaves the copy to the first
	// write (ownVars).
	sharedVars bool
}

// clone copies the parts of s that an update writes; values inside Vars are
// never mutated in place (bindings build new slices), so a shallow copy is
// enough. Steps and Recent are only ever replaced or appended to, so the
// clone shares their arrays clipped to their length (an append copies);
// Vars is copied on its first write (ownVars), as few calls bind one.
func (s State) clone() State {
	c := s.cloneForResult()
	c.StepCounts = maps.Clone(s.StepCounts)
	if c.StepCounts == nil {
		c.StepCounts = map[string]int{}
	}
	return c
}

// cloneForResult is clone for Observe, which writes a tool's history and
// the variables but never the step counts: it shares StepCounts, which
// only advance and resume write, each in a clone of its own. Decide and
// Observe each cloned every map, twice per call.
func (s State) cloneForResult() State {
	c := s
	c.Steps = slices.Clip(s.Steps)
	c.Tools = maps.Clone(s.Tools)
	c.Recent = slices.Clip(s.Recent)
	c.sharedVars = c.Vars != nil
	if c.Vars == nil {
		c.Vars = map[string]any{}
	}
	if c.Tools == nil {
		c.Tools = map[string]ToolHistory{}
	}
	return c
}

// ownVars gives s its own copy of Vars before a write, if it shares its
// clone's.
func (s *State) ownVars() {
	if s.sharedVars {
		s.Vars = maps.Clone(s.Vars)
		s.sharedVars = false
	}
}

func (s *State) record(e Event) {
	s.Recent = append(s.Recent, e)
	if len(s.Recent) > recentMax {
		s.Recent = append([]Event(nil), s.Recent[len(s.Recent)-recentMax:]...)
	}
}

// history serves the expression helpers from a State's tools' history.
// It holds the map and not the State, so that building an Env does not
// make the caller's State escape: Decide and Observe take theirs by value,
// and each such copy moved to the heap (four per call in a replay).
type history struct {
	tools map[string]ToolHistory
	now   time.Time
}

func (h history) called(tool string) bool { return h.tools[tool].Count > 0 }
func (h history) count(tool string) int   { return h.tools[tool].Count }

func (h history) last(tool string) map[string]any {
	th, ok := h.tools[tool]
	if !ok || th.Count == 0 {
		return nil
	}
	return map[string]any{"args": th.LastArgs, "result": resultValue(th.LastResult), "at": th.LastAt}
}

func (h history) since(tool string) float64 {
	th, ok := h.tools[tool]
	if !ok || th.Count == 0 {
		return math.MaxFloat64
	}
	return h.now.Sub(th.LastAt).Seconds()
}

// neverCalled and its kin are the helpers of a session that has called
// nothing yet: functions, not closures over an empty history, so that
// the Env of a session's first call allocates none for them.
func neverCalled(string) bool         { return false }
func neverCount(string) int           { return 0 }
func neverLast(string) map[string]any { return nil }
func neverSince(string) float64       { return math.MaxFloat64 }

// Env builds the expression environment for a call in this state. result is
// nil for guards and call rules, the parsed result for result bindings and
// result rules.
func (s *State) Env(call Call, result any, now time.Time) *eval.Env {
	h := history{tools: s.Tools, now: now}
	args := call.Args
	if args == nil {
		args = map[string]any{}
	}
	vars := s.Vars
	if vars == nil {
		vars = map[string]any{}
	}
	ce := eval.CallEnv{Kind: call.kind(), Name: call.Tool, Args: args, Upstream: call.Upstream}
	switch ce.Kind {
	case KindResource:
		ce.URI = call.Tool
	case KindPrompt:
		ce.Prompt = call.Tool
	default:
		ce.Tool = call.Tool
	}
	from, sources := provenanceHelpers(call.Provenance)
	called, count, last, since := neverCalled, neverCount, neverLast, neverSince
	if len(s.Tools) > 0 {
		called, count, last, since = h.called, h.count, h.last, h.since
	}
	return &eval.Env{
		Call: ce,
		Args: args,
		Session: eval.SessionEnv{
			ID: s.Session.ID, Agent: s.Session.Agent, Vars: vars, Calls: s.Calls,
			Started: s.Session.Started, RemoteAddr: s.Session.RemoteAddr,
			Intent: s.Session.intentEnv(),
			Risk:   s.Risk(now, s.HalfLife),
		},
		Signals: signalsEnv(s.Signals),
		Vars:    vars,
		Result:  result,
		Now:     now,
		From:    from,
		Sources: sources,
		Called:  called,
		Count:   count,
		Last:    last,
		Since:   since,
	}
}

// intentEnv is the intent as expressions see it (session.intent): empty
// fields when none was declared, so rules need no nil checks.
func (si SessionInfo) intentEnv() eval.IntentEnv {
	in := si.Intent
	if in == nil {
		return eval.IntentEnv{Actions: []string{}, Recipients: []string{}, Amounts: []float64{}}
	}
	return eval.IntentEnv{Declared: true, Request: in.Request, Actions: orEmpty(in.Actions), Recipients: orEmpty(in.Recipients), Amounts: orEmpty(in.Amounts)}
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// provenanceHelpers are from() and sources() in expressions: a value's
// most trusted source and all its sources, none when provenance is not
// tracked. from() asks the sources() closure, so that an Env allocates two
// closures for them, not three, and none without provenance.
func provenanceHelpers(p Provenance) (from func(any) string, sources func(any) []string) {
	if p == nil {
		return fromNowhere, sourcesNone
	}
	of := func(v any) []string {
		if s := p.From(v); s != nil {
			return s
		}
		return []string{}
	}
	return func(v any) string { return bestSource(of(v)) }, of
}

func sourcesNone(any) []string { return []string{} }
func fromNowhere(any) string   { return "" }

// bestSource ranks sources: the user's words, then the agent's
// configuration, then a structured field, then free text.
func bestSource(srcs []string) string {
	best, rank := "", 0
	for _, s := range srcs {
		r := 1
		switch {
		case s == "intent":
			r = 4
		case s == "config":
			r = 3
		case strings.HasPrefix(s, "result:"):
			r = 2
		}
		if r > rank {
			best, rank = s, r
		}
	}
	return best
}

// signalsEnv is the session's signals as expressions see them (signals).
func signalsEnv(sigs []Signal) []eval.SignalEnv {
	out := make([]eval.SignalEnv, len(sigs))
	for i, s := range sigs {
		out[i] = eval.SignalEnv{Name: s.Name, Weight: s.Weight, At: s.At, Evidence: s.Evidence}
	}
	return out
}
