package config

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
)

// nameRE is the charset of upstream and agent names.
var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// toolPrefixRE keeps prefixed tool names within the characters MCP
// recommends for tool names.
var toolPrefixRE = regexp.MustCompile(`^[A-Za-z0-9_.-]*$`)

// upstreams reads the upstreams list; callTimeout is the global default.
func (d *decoder) upstreams(n ast.Node, callTimeout time.Duration) []*Upstream {
	items, ok := d.list(n, "upstreams")
	if !ok {
		return nil
	}
	if len(items) == 0 {
		d.errorf(n, "upstreams is empty; at least one is required")
		return nil
	}
	seen := map[string]ast.Node{}
	var out []*Upstream
	for i, it := range items {
		if na, null := it.(nilAt); null {
			d.errorf(na.Node, "upstreams[%d] is empty", i)
			continue
		}
		u := d.upstream(it, i, callTimeout, seen)
		if u != nil {
			out = append(out, u)
		}
	}
	return out
}

// upstream reads one upstream; seen detects duplicate names.
func (d *decoder) upstream(n ast.Node, i int, callTimeout time.Duration, seen map[string]ast.Node) *Upstream {
	what := fmt.Sprintf("upstreams[%d]", i)
	fields, ok := d.mapping(n, what, "name", "stdio", "http", "sse", "tool_prefix", "call_timeout", "validate_args",
		"sessions", "max_sessions", "session_idle_timeout", "spare_sessions")
	if !ok {
		return nil
	}
	u := &Upstream{CallTimeout: callTimeout, ValidateArgs: ArgsSchema}
	var transports []field
	var sessions sessionFields
	named := false
	for _, f := range fields {
		switch f.name {
		case "name":
			named = true
			u.Name = d.nameField(f, what, "upstream", seen)
		case "stdio", "http", "sse":
			transports = append(transports, f)
		case "tool_prefix":
			if f.val == nil {
				continue
			}
			if s, ok := d.str(f.val, what+".tool_prefix"); ok {
				if !toolPrefixRE.MatchString(s) {
					d.errorf(f.val, "%s.tool_prefix %q may hold only letters, digits, '_', '-' and '.'", what, s)
				}
				u.ToolPrefix = s
			}
		case "call_timeout":
			if f.val != nil {
				if dur, ok := d.duration(f.val, what+".call_timeout"); ok {
					u.CallTimeout = dur
				}
			}
		case "validate_args":
			if f.val == nil {
				continue
			}
			if s, ok := d.str(f.val, what+".validate_args"); ok {
				switch v := ArgValidation(s); v {
				case ArgsSchema, ArgsKeysOnly:
					u.ValidateArgs = v
				default:
					d.errorf(f.val, "%s.validate_args %q is not one of schema, keys_only", what, s)
				}
			}
		case "sessions", "max_sessions", "session_idle_timeout", "spare_sessions":
			d.sessionField(f, what, &sessions)
		}
	}
	if u.Name != "" {
		what = fmt.Sprintf("upstream %q", u.Name)
	}
	if !named {
		d.errorf(n, "%s has no name", what)
	}
	switch len(transports) {
	case 0:
		d.errorf(n, "%s needs a transport: one of stdio, http or sse", what)
	case 1:
		t := transports[0]
		u.Transport = Transport(t.name)
		if t.val == nil {
			d.errorf(t.key, "%s.%s is empty", what, t.name)
			break
		}
		if t.name == "stdio" {
			u.Stdio = d.stdio(t.val, what+".stdio")
		} else {
			u.Remote = d.remote(t.val, what+"."+t.name)
		}
	default:
		d.errorf(transports[1].key, "%s has both %s and %s; an upstream uses exactly one transport", what, transports[0].name, transports[1].name)
	}
	d.resolveSessions(u, sessions, what)
	return u
}

// checkName validates an upstream or agent name and its uniqueness.
func (d *decoder) checkName(n ast.Node, kind, name string, seen map[string]ast.Node) {
	if !nameRE.MatchString(name) {
		d.errorf(n, "%s name %q must match [a-z0-9][a-z0-9_-]*", kind, name)
		return
	}
	if first, dup := seen[name]; dup {
		line, col := position(first)
		d.errorf(n, "duplicate %s name %q (first at %d:%d)", kind, name, line, col)
		return
	}
	seen[name] = n
}

// stdio reads a stdio transport.
func (d *decoder) stdio(n ast.Node, what string) *Stdio {
	s := &Stdio{}
	fields, ok := d.mapping(n, what, "command", "args", "env", "dir")
	if !ok {
		return s
	}
	hasCommand := false
	for _, f := range fields {
		switch f.name {
		case "command":
			hasCommand = true
			if f.val == nil {
				d.errorf(f.key, "%s.command is empty", what)
				continue
			}
			s.Command, _ = d.nonEmpty(f.val, what+".command")
		case "args":
			if f.val == nil {
				continue
			}
			vals, nodes, _ := d.strList(f.val, what+".args")
			for i, v := range vals {
				s.Args = append(s.Args, d.expand(nodes[i], v, fmt.Sprintf("%s.args[%d]", what, i)))
			}
		case "env":
			if f.val == nil {
				continue
			}
			keys, vals, nodes, _ := d.strMap(f.val, what+".env")
			s.Env = make(map[string]string, len(keys))
			for i, k := range keys {
				if !validEnvName(k) {
					d.errorf(nodes[i], "%s.env key %q is not an environment variable name", what, k)
				}
				s.Env[k] = d.expand(nodes[i], vals[i], what+".env."+k)
			}
		case "dir":
			if f.val != nil {
				if p, ok := d.nonEmpty(f.val, what+".dir"); ok {
					s.Dir = d.path(p)
				}
			}
		}
	}
	if !hasCommand {
		d.errorf(n, "%s needs a command", what)
	}
	return s
}

// remote reads an http or sse transport.
func (d *decoder) remote(n ast.Node, what string) *Remote {
	r := &Remote{}
	fields, ok := d.mapping(n, what, "url", "headers")
	if !ok {
		return r
	}
	hasURL := false
	for _, f := range fields {
		switch f.name {
		case "url":
			hasURL = true
			if f.val == nil {
				d.errorf(f.key, "%s.url is empty", what)
				continue
			}
			s, ok := d.str(f.val, what+".url")
			if !ok {
				continue
			}
			r.URL = s
			u, err := url.Parse(s)
			switch {
			case strings.Contains(s, "${"):
				d.errorf(f.val, "%s.url: ${VAR} is not expanded in urls (only in stdio args, stdio env and headers)", what)
			case err != nil:
				d.errorf(f.val, "%s.url is not a valid URL", what)
			case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
				d.errorf(f.val, "%s.url %q is not an http:// or https:// URL", what, redactURL(s))
			}
		case "headers":
			if f.val == nil {
				continue
			}
			keys, vals, nodes, _ := d.strMap(f.val, what+".headers")
			r.Headers = make(map[string]string, len(keys))
			for i, k := range keys {
				if !validHeaderName(k) {
					d.errorf(nodes[i], "%s.headers: %q is not a valid header name", what, k)
				}
				v := d.expand(nodes[i], vals[i], what+".headers."+k)
				if strings.ContainsAny(v, "\r\n\x00") {
					d.errorf(nodes[i], "%s.headers.%s holds a line break or NUL after expansion", what, k)
				}
				r.Headers[k] = v
			}
		}
	}
	if !hasURL {
		d.errorf(n, "%s needs a url", what)
	}
	return r
}

// expand expands ${VAR} in a value, reporting failures at its node.
func (d *decoder) expand(n ast.Node, s, what string) string {
	getenv, missing := d.getenv, false
	if d.unsetWarns {
		getenv = func(name string) string {
			if v := d.getenv(name); v != "" {
				return v
			}
			d.unset(n, what, name)
			missing = true
			return "unset" // the value is dropped below
		}
	}
	v, err := expand(s, getenv)
	if err != nil {
		d.errorf(n, "%s: %v", what, err)
		return ""
	}
	if missing {
		return "" // as after an error: the checks of the value are skipped
	}
	return v
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// nameField reads the name of an upstream or an agent (kind): required,
// in the allowed charset, and unique among its kind.
func (d *decoder) nameField(f field, what, kind string, seen map[string]ast.Node) string {
	if f.val == nil {
		d.errorf(f.key, "%s.name is empty", what)
		return ""
	}
	s, ok := d.str(f.val, what+".name")
	if !ok {
		return ""
	}
	d.checkName(f.val, kind, s, seen)
	return s
}
