package eval

import (
	"errors"
	"fmt"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/warden-dev/warden"
)

// Rule is one policy rule: when When holds, the call (or, for a result rule,
// the result) gets Action, with Reason. Rules run on top of the workflow
// graph, on every call, for what a graph cannot say well.
type Rule struct {
	Name     string         `yaml:"name" json:"name,omitempty"`
	When     string         `yaml:"when" json:"when"`
	Action   warden.Verdict `yaml:"action" json:"action"`
	Reason   string         `yaml:"reason" json:"reason"`
	OnResult bool           `yaml:"-" json:"on_result,omitempty"` // runs on results (result_rules)
	Line     int            `yaml:"-" json:"-"`                   // where the rule is written, for errors
	Column   int            `yaml:"-" json:"-"`

	prog *Program
}

// UnmarshalYAML reads a rule and remembers where it was written.
func (r *Rule) UnmarshalYAML(node ast.Node) error {
	var p struct {
		Name   string `yaml:"name"`
		When   string `yaml:"when"`
		Action string `yaml:"action"`
		Reason string `yaml:"reason"`
	}
	if err := yaml.NodeToValue(node, &p, yaml.Strict()); err != nil {
		return err
	}
	v, err := warden.ParseVerdict(p.Action)
	if err != nil {
		// Report the verdict's own position, as a YAML error would.
		tk := node.GetToken()
		if m, ok := node.(*ast.MappingNode); ok {
			for _, kv := range m.Values {
				if kv.Key.String() == "action" {
					tk = kv.Value.GetToken()
				}
			}
		} else if mv, ok := node.(*ast.MappingValueNode); ok {
			tk = mv.Value.GetToken()
		}
		return &yaml.SyntaxError{Message: err.Error(), Token: tk}
	}
	*r = Rule{Name: p.Name, When: p.When, Action: v, Reason: p.Reason}
	if m, ok := node.(*ast.MappingNode); ok && len(m.Values) > 0 {
		node = m.Values[0].Key
	}
	if mv, ok := node.(*ast.MappingValueNode); ok {
		node = mv.Key
	}
	if tk := node.GetToken(); tk != nil && tk.Position != nil {
		r.Line, r.Column = tk.Position.Line, tk.Position.Column
	}
	return nil
}

// Compile compiles the rule's condition; Match needs it. A rule with no
// reason gets its condition as the reason, so no verdict is unexplained.
func (r *Rule) Compile() error {
	if strings.TrimSpace(r.When) == "" {
		return errors.New("rule has no `when`")
	}
	p, err := Compile(r.When, Guard)
	if err != nil {
		return err
	}
	if p.UsesResult() && !r.OnResult {
		return fmt.Errorf("rule %q reads `result`, which only result_rules can see", r.label())
	}
	if r.Reason == "" {
		r.Reason = "rule: " + r.When
	}
	r.prog = p
	return nil
}

// Program returns the compiled condition (nil before Compile).
func (r *Rule) Program() *Program { return r.prog }

func (r *Rule) label() string {
	if r.Name != "" {
		return r.Name
	}
	return r.When
}

// Evaluate runs the rules of one kind (result rules when onResult, call
// rules otherwise) against env and returns the strongest action of
// those that fire, with every reason. A rule that fails to run (a nil access,
// a wrong type) denies: policy fails closed. A rule not compiled denies too.
func Evaluate(rules []Rule, env *Env, onResult bool) (warden.Verdict, []string) {
	v, reasons, _, _ := evaluate(rules, env, onResult)
	return v, reasons
}

// EvaluateReads is Evaluate that also says which arguments the rules that
// fired read: what an approval of the verdict is bound to.
func EvaluateReads(rules []Rule, env *Env, onResult bool) (warden.Verdict, []string, Reads) {
	v, reasons, _, reads := evaluate(rules, env, onResult)
	return v, reasons, reads
}

// Fired is Evaluate that also names the rules that fired or failed (each
// by its name, or its condition when it has none), for a record that
// must say which rule acted without repeating what it saw.
func Fired(rules []Rule, env *Env, onResult bool) (v warden.Verdict, reasons, names []string) {
	v, reasons, names, _ = evaluate(rules, env, onResult)
	return v, reasons, names
}

// evaluate runs the rules: the strongest verdict of those that fired, and
// their reasons, names and the arguments they read.
func evaluate(rules []Rule, env *Env, onResult bool) (v warden.Verdict, reasons, names []string, read Reads) {
	v = warden.Allow
	for i := range rules {
		r := &rules[i]
		if r.OnResult != onResult {
			continue
		}
		if r.prog == nil {
			v = warden.Max(v, warden.Deny)
			reasons = append(reasons, fmt.Sprintf("rule %q was not compiled", r.label()))
			names = append(names, r.label())
			continue
		}
		ok, err := r.prog.Bool(env)
		if err != nil {
			v = warden.Max(v, warden.Deny)
			reasons = append(reasons, fmt.Sprintf("rule %q failed, denying: %v", r.label(), err))
			names = append(names, r.label())
			continue
		}
		if ok {
			v = warden.Max(v, r.Action)
			reasons = append(reasons, r.Reason)
			names = append(names, r.label())
			read.Merge(r.prog.Reads())
		}
	}
	return v, reasons, names, read
}

// RuleSet is the rules file format: rules on calls and rules on results.
type RuleSet struct {
	Rules       []Rule `yaml:"rules"`
	ResultRules []Rule `yaml:"result_rules"`
}

// LoadRules reads a rules file (YAML: `rules:` and `result_rules:` lists of
// {name, when, action, reason}) and compiles every rule. Errors name
// filename:line:col. The result rules come back with OnResult set.
func LoadRules(filename string, data []byte) ([]Rule, error) {
	var rs RuleSet
	var errs []error
	if err := decodeStrict(data, &rs); err != nil {
		// Decode again rule by rule, so that every problem is reported
		// rather than the first; the rules that decode are compiled too.
		rs, errs = decodeEach(filename, data)
		if len(errs) == 0 {
			return nil, fmt.Errorf("%s", YAMLError(filename, err))
		}
	}
	for i := range rs.ResultRules {
		rs.ResultRules[i].OnResult = true
	}
	all := append(rs.Rules, rs.ResultRules...)
	for i := range all {
		if err := all[i].Compile(); err != nil {
			errs = append(errs, fmt.Errorf("%s:%d:%d: %w", filename, all[i].Line, all[i].Column, err))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return all, nil
}

// YAMLError renders a goccy/go-yaml error as "file:line:col: message".
func YAMLError(filename string, err error) string {
	var ye yaml.Error
	if errors.As(err, &ye) {
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			return fmt.Sprintf("%s:%d:%d: %s", filename, tk.Position.Line, tk.Position.Column, ye.GetMessage())
		}
		return fmt.Sprintf("%s: %s", filename, ye.GetMessage())
	}
	return fmt.Sprintf("%s: %v", filename, err)
}

// decodeEach decodes a rules file key by key and rule by rule, returning
// the rules that decode and a problem for each that does not and for
// each unknown key.
func decodeEach(filename string, data []byte) (rs RuleSet, errs []error) {
	defer func() {
		if r := recover(); r != nil {
			errs = append(errs, fmt.Errorf("%s: the YAML could not be read: %v", filename, r))
		}
	}()
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return rs, []error{errors.New(YAMLError(filename, err))}
	}
	for _, doc := range f.Docs {
		m, ok := doc.Body.(*ast.MappingNode)
		if !ok {
			continue // empty, or not a mapping: the whole decode's error says so
		}
		for _, kv := range m.Values {
			var into *[]Rule
			switch kv.Key.String() {
			case "rules":
				into = &rs.Rules
			case "result_rules":
				into = &rs.ResultRules
			default:
				tk := kv.Key.GetToken()
				errs = append(errs, fmt.Errorf("%s:%d:%d: unknown field %q", filename, tk.Position.Line, tk.Position.Column, kv.Key.String()))
				continue
			}
			seq, ok := kv.Value.(*ast.SequenceNode)
			if !ok {
				if err := yaml.NodeToValue(kv.Value, into, yaml.Strict()); err != nil {
					errs = append(errs, errors.New(YAMLError(filename, err)))
				}
				continue
			}
			for _, item := range seq.Values {
				var r Rule
				if err := yaml.NodeToValue(item, &r, yaml.Strict()); err != nil {
					errs = append(errs, errors.New(YAMLError(filename, err)))
					continue
				}
				*into = append(*into, r)
			}
		}
	}
	return rs, errs
}

// decodeStrict decodes strictly, turning a panic inside the YAML library
// into an error.
func decodeStrict(data []byte, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the YAML could not be read: %v", r)
		}
	}()
	return yaml.UnmarshalWithOptions(data, v, yaml.Strict())
}
