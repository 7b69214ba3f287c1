// Package eval is the expression layer of warden's policy: the environment
// that guards, bindings and rules see, their compilation (expr-lang/expr,
// type-checked at load, run many times), rule evaluation, and the parsing of
// tool results into structure.
package eval

import "time"

// Env is what a guard, binding or rule sees when it runs. Field tags give the
// names used in expressions: call, args, session, vars, result, now, and the
// history helpers called, count, last and since.
type Env struct {
	Call    CallEnv        `expr:"call"`
	Args    map[string]any `expr:"args"` // shorthand for call.args
	Session SessionEnv     `expr:"session"`
	Vars    map[string]any `expr:"vars"`   // shorthand for session.vars
	Result  any            `expr:"result"` // the parsed result; nil before the call returns
	Now     time.Time      `expr:"now"`
	// Signals are the session's post-authentication signals, oldest first.
	Signals []SignalEnv `expr:"signals"`

	// Called reports whether the session has called this tool before.
	Called func(tool string) bool `expr:"called"`
	// Count is how many times the session has called this tool.
	Count func(tool string) int `expr:"count"`
	// Last is the last call of this tool ({"args": ..., "result": ...}), nil if none.
	Last func(tool string) map[string]any `expr:"last"`
	// Since is the number of seconds since the last call of this tool
	// (a very large number if it was never called).
	Since func(tool string) float64 `expr:"since"`
	// From is where a value came from (provenance), its most trusted
	// source: "intent", then "config", then "result:<tool>.<path>", then
	// "text:<tool>"; "" when it appeared nowhere the session saw. So
	// from(args.to) in ["intent", "result:get_contacts.email"] reads as
	// it says.
	From func(v any) string `expr:"from"`
	// Sources are all of a value's sources, sorted.
	Sources func(v any) []string `expr:"sources"`
}

// CallEnv is the call being decided: a tool call, a resource read or a
// prompt get. Tool, URI and Prompt are each set only for their own kind,
// so a rule written for a tool never fires on a prompt of the same name.
type CallEnv struct {
	Kind     string         `expr:"kind"` // "tool", "resource" or "prompt"
	Name     string         `expr:"name"` // the tool's or prompt's name, or the resource's URI
	Tool     string         `expr:"tool"`
	URI      string         `expr:"uri"`
	Prompt   string         `expr:"prompt"`
	Args     map[string]any `expr:"args"` // a prompt's arguments; {"uri": URI} for a resource
	Upstream string         `expr:"upstream"`
}

// SessionEnv is the session the call belongs to.
type SessionEnv struct {
	ID         string         `expr:"id"`
	Agent      string         `expr:"agent"`
	Vars       map[string]any `expr:"vars"`
	Calls      int            `expr:"calls"` // calls accepted so far
	Started    time.Time      `expr:"started"`
	RemoteAddr string         `expr:"remote_addr"`
	Intent     IntentEnv      `expr:"intent"`
	// Risk is the session's risk now: its signals' weights, decayed.
	Risk float64 `expr:"risk"`
}

// SignalEnv is one of the session's signals (signals): its name, weight,
// when it was seen and what was seen.
type SignalEnv struct {
	Name     string    `expr:"name"`
	Weight   float64   `expr:"weight"`
	At       time.Time `expr:"at"`
	Evidence string    `expr:"evidence"`
}

// IntentEnv is the task the agent framework declared for the session
// (session.intent): session.intent.request is the user's request, in the
// user's words; declared is false when none was declared.
type IntentEnv struct {
	Declared   bool      `expr:"declared"`
	Request    string    `expr:"request"`
	Actions    []string  `expr:"actions"`
	Recipients []string  `expr:"recipients"`
	Amounts    []float64 `expr:"amounts"`
}
