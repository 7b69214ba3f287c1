package config

import (
	"fmt"
	"path"
	"slices"

	"github.com/goccy/go-yaml/ast"
)

// agents reads the agents list; ups are the decoded upstreams, which
// agents' upstream lists must name.
func (d *decoder) agents(n ast.Node, ups []*Upstream) []*Agent {
	items, ok := d.list(n, "agents")
	if !ok {
		return nil
	}
	if len(items) == 0 {
		d.errorf(n, "agents is empty; at least one is required")
		return nil
	}
	known := make(map[string]bool, len(ups))
	all := make([]string, 0, len(ups))
	for _, u := range ups {
		if u.Name != "" && !known[u.Name] {
			known[u.Name] = true
			all = append(all, u.Name)
		}
	}
	seen := map[string]ast.Node{}
	tokens := map[string]string{} // hash -> agent name, to refuse shared tokens
	var out []*Agent
	for i, it := range items {
		if na, null := it.(nilAt); null {
			d.errorf(na.Node, "agents[%d] is empty", i)
			continue
		}
		if a := d.agent(it, i, known, all, seen, tokens); a != nil {
			out = append(out, a)
		}
	}
	return out
}

// agent reads one agent.
func (d *decoder) agent(n ast.Node, i int, known map[string]bool, all []string, seen map[string]ast.Node, tokens map[string]string) *Agent {
	what := fmt.Sprintf("agents[%d]", i)
	fields, ok := d.mapping(n, what, "name", "token_sha256", "token_env", "token_file", "upstreams", "tools", "resources", "prompts", "workflow", "throttle", "retention", "record_results", "budgets", "judge")
	if !ok {
		return nil
	}
	a := &Agent{Upstreams: all, Tools: []string{"*"}, RecordResults: RecordResults{Default: ResultsFull}}
	var tokenFields []field
	named, restricted := false, false // restricted: tools limited to less than all
	var resources, prompts []string   // nil: not given
	for _, f := range fields {
		switch f.name {
		case "name":
			named = true
			a.Name = d.nameField(f, what, "agent", seen)
		case "token_sha256", "token_env", "token_file":
			tokenFields = append(tokenFields, f)
		case "upstreams":
			if f.val != nil {
				a.Upstreams = d.agentUpstreams(f.val, what, known)
			}
		case "tools":
			if f.val != nil {
				a.Tools = d.tools(f.val, what)
				restricted = !slices.Contains(a.Tools, "*")
			}
		case "resources":
			resources = d.routePatterns(f.val, what+".resources", false)
		case "prompts":
			prompts = d.routePatterns(f.val, what+".prompts", true)
		case "throttle":
			if f.val != nil {
				a.Throttle = d.rate(f.val, what+".throttle")
			}
		case "retention":
			if f.val != nil {
				a.Retention, a.retentionAt = d.agentRetention(f.val, what+".retention"), f.key
			}
		case "budgets":
			if f.val != nil {
				a.Budgets = d.budgets(f.val, what+".budgets")
			}
		case "judge":
			if f.val == nil {
				d.errorf(f.key, "%s.judge is empty; omit it for no judge", what)
				continue
			}
			a.Judge = d.judge(f.val, what+".judge")
		case "record_results":
			if f.val != nil {
				a.RecordResults = d.recordResults(f.val, what+".record_results")
			}
		case "workflow":
			if f.val != nil {
				if p, ok := d.nonEmpty(f.val, what+".workflow"); ok {
					a.Workflow, _ = d.existing(f.val, what+".workflow", p)
				}
			}
		}
	}
	if !named {
		d.errorf(n, "%s has no name", what)
	}
	a.Resources, a.Prompts = routeDefault(resources, restricted), routeDefault(prompts, restricted)
	if a.Name != "" {
		what = fmt.Sprintf("agent %q", a.Name)
	}
	a.TokenSHA256, a.hash, _, a.TokenFile = d.token(n, what, tokenFields)
	if a.TokenSHA256 != "" {
		if other, dup := tokens[a.TokenSHA256]; dup {
			d.errorf(tokenFields[0].val, "%s has the same token as agent %q; each agent needs its own", what, other)
		} else {
			tokens[a.TokenSHA256] = a.Name
		}
	}
	return a
}

// agentUpstreams reads an agent's upstream list, which must name known
// upstreams.
func (d *decoder) agentUpstreams(n ast.Node, what string, known map[string]bool) []string {
	vals, nodes, _ := d.strList(n, what+".upstreams")
	if len(vals) == 0 {
		if _, isList := n.(*ast.SequenceNode); isList {
			d.errorf(n, "%s.upstreams is empty, so the agent could use no tools; omit it to allow all", what)
		}
		return nil
	}
	seen := map[string]bool{}
	out := make([]string, 0, len(vals))
	for i, v := range vals {
		switch {
		case !known[v]:
			d.errorf(nodes[i], "%s.upstreams names unknown upstream %q", what, v)
		case seen[v]:
			d.errorf(nodes[i], "%s.upstreams lists %q twice", what, v)
		default:
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// tools reads an agent's tool patterns.
func (d *decoder) tools(n ast.Node, what string) []string {
	vals, nodes, _ := d.strList(n, what+".tools")
	if len(vals) == 0 {
		if _, isList := n.(*ast.SequenceNode); isList {
			d.errorf(n, "%s.tools is empty, so the agent could use no tools; omit it to allow all", what)
		}
		return nil
	}
	for i, p := range vals {
		if p == "" {
			d.errorf(nodes[i], "%s.tools[%d] is an empty pattern", what, i)
			continue
		}
		if _, err := path.Match(p, ""); err != nil {
			d.errorf(nodes[i], "%s.tools[%d] %q is not a valid glob pattern (path.Match syntax: * ? [a-z] \\)", what, i, p)
		}
	}
	return vals
}

// routePatterns reads an agent's resource or prompt patterns. An empty
// list is allowed and means none. Prompt patterns are path.Match patterns,
// as for tools; resource patterns are globs where * crosses '/', since
// URIs are paths.
func (d *decoder) routePatterns(n ast.Node, what string, pathMatch bool) []string {
	out := []string{}
	if n == nil {
		return out // "resources:" with nothing: none
	}
	vals, nodes, _ := d.strList(n, what)
	for i, p := range vals {
		if p == "" {
			d.errorf(nodes[i], "%s[%d] is an empty pattern", what, i)
			continue
		}
		if _, err := path.Match(p, ""); pathMatch && err != nil {
			d.errorf(nodes[i], "%s[%d] %q is not a valid glob pattern (path.Match syntax: * ? [a-z] \\)", what, i, p)
			continue
		}
		out = append(out, p)
	}
	return out
}

// routeDefault is an agent's resource or prompt patterns when the field
// is omitted: all for an agent whose tools are not restricted (as before
// these routes were decided), none for one whose tools are, so that
// restricting tools is never undone by another route to the same data.
func routeDefault(given []string, restricted bool) []string {
	switch {
	case given != nil:
		return given
	case restricted:
		return []string{}
	default:
		return []string{"*"}
	}
}
