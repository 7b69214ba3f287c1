// Package workflows holds warden's workflow format (one YAML file per agent),
// its loading with file:line:col errors and validation, and the graph
// matcher: a pure function from (state, call) to a decision and the next
// state, with no I/O, shared by live traffic and replay.
package workflows

import (
	"fmt"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"

	"github.com/warden-dev/warden/eval"
)

// pos is where a node was written.
type pos struct{ Line, Col int }

// setPos lets the decoder set the position of the specs that embed pos.
func (p *pos) setPos(q pos) { *p = q }

func nodePos(n ast.Node) pos {
	if n == nil {
		return pos{}
	}
	// A mapping's own token is its first value; point at its first key.
	if m, ok := n.(*ast.MappingNode); ok && len(m.Values) > 0 {
		n = m.Values[0].Key
	}
	if mv, ok := n.(*ast.MappingValueNode); ok {
		n = mv.Key
	}
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		return pos{tk.Position.Line, tk.Position.Column}
	}
	return pos{}
}

// str is a scalar that remembers its position, so that errors found after
// decoding (an unknown step in next, a guard that does not compile) can name it.
type str struct {
	Value string
	pos
}

func (s *str) UnmarshalYAML(n ast.Node) error {
	s.pos = nodePos(n)
	switch v := n.(type) {
	case *ast.StringNode:
		s.Value = v.Value
		return nil
	case *ast.NullNode:
		s.Value = ""
		return nil
	case *ast.LiteralNode: // block scalars: | and >
		s.Value = v.Value.Value
		return nil
	case ast.ScalarNode:
		s.Value = fmt.Sprint(v.GetValue())
		return nil
	}
	return fmt.Errorf("[%d:%d] want a string, got %s", s.Line, s.Col, n.Type())
}

// fileSpec is the YAML document as written.
type fileSpec struct {
	Agent       str            `yaml:"agent"`
	Purpose     str            `yaml:"purpose"`
	OnViolation str            `yaml:"on_violation"`
	Budget      *budgetSpec    `yaml:"budget"`
	Throttle    *throttleSpec  `yaml:"throttle"`
	Vars        map[string]any `yaml:"vars"`
	Start       []str          `yaml:"start"`
	Anytime     []str          `yaml:"anytime"`
	Terminal    []str          `yaml:"terminal"`
	Steps       []stepSpec     `yaml:"steps"`
	Rules       []eval.Rule    `yaml:"rules"`
	ResultRules []eval.Rule    `yaml:"result_rules"`
	// RequireIntent refuses the calls of a session whose framework
	// declared no intent.
	RequireIntent bool `yaml:"require_intent"`
	// Effects are the tools (globs) whose calls act on the world: send,
	// pay, delete, book, invite, post.
	Effects []str `yaml:"effects"`
	// OnUntrusted answers an effect call carrying a value whose only
	// source is free text of a result (default step_up).
	OnUntrusted str `yaml:"on_untrusted"`
	// Risk maps the session's risk (its signals' decaying weights) to
	// the ladder.
	Risk *riskSpec `yaml:"risk"`
}

// riskSpec is the workflow's risk section.
type riskSpec struct {
	HalfLife str      `yaml:"half_life"`
	Flag     *float64 `yaml:"flag"`
	StepUp   *float64 `yaml:"step_up"`
	Kill     *float64 `yaml:"kill"`
}

type budgetSpec struct {
	MaxCalls    int `yaml:"max_calls"`
	MaxDuration str `yaml:"max_duration"`
	OnExceed    str `yaml:"on_exceed"`
}

// throttleSpec is a per-session rate limit: a token bucket.
type throttleSpec struct {
	PerMinute str `yaml:"per_minute"`
	Burst     str `yaml:"burst"`
	pos
}

func (t *throttleSpec) UnmarshalYAML(n ast.Node) error {
	type plain throttleSpec
	var p plain
	if err := yaml.NodeToValue(n, &p, yaml.Strict()); err != nil {
		return err
	}
	*t = throttleSpec(p)
	t.pos = nodePos(n)
	return nil
}

type stepSpec struct {
	Name        str        `yaml:"name"`
	Description str        `yaml:"description"`
	Tool        str        `yaml:"tool"`
	Resource    str        `yaml:"resource"` // a resource URI pattern, instead of a tool
	Prompt      str        `yaml:"prompt"`   // a prompt name pattern, instead of a tool
	Guard       str        `yaml:"guard"`
	Bind        []bindSpec `yaml:"bind"`
	Budget      int        `yaml:"budget"`
	Next        []str      `yaml:"next"`
	OnViolation str        `yaml:"on_violation"`
	// ApprovalTimeout is how long a step-up on this step holds the call.
	ApprovalTimeout str `yaml:"approval_timeout"`
	// TrustedSources names, per argument, where its value must come from
	// (provenance): "intent", "config", "result:<tool>.<path>" globs.
	TrustedSources map[string][]string `yaml:"trusted_sources"`
	pos
}

func (s *stepSpec) UnmarshalYAML(n ast.Node) error {
	type plain stepSpec
	var p plain
	if err := yaml.NodeToValue(n, &p, yaml.Strict()); err != nil {
		return err
	}
	*s = stepSpec(p)
	s.pos = nodePos(n)
	return nil
}

type bindSpec struct {
	Var str `yaml:"var"`
	Set str `yaml:"set"`
	Add str `yaml:"add"`
	pos
}

func (b *bindSpec) UnmarshalYAML(n ast.Node) error {
	type plain bindSpec
	var p plain
	if err := yaml.NodeToValue(n, &p, yaml.Strict()); err != nil {
		return err
	}
	*b = bindSpec(p)
	b.pos = nodePos(n)
	return nil
}
