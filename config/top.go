package config

import (
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"

	"github.com/warden-dev/warden"
)

// topFields are the keys allowed at the top level.
var topFields = []string{"listen", "allowed_hosts", "allowed_origins", "max_body_bytes", "session_idle_ttl",
	"call_timeout", "data_dir", "log", "admin", "approvals", "throttle", "revalidation", "network", "retention", "anchor", "store", "rules", "upstreams", "agents", "limits", "export", "tracing"}

// top decodes the top-level mapping, applies defaults and runs the checks
// that span sections (agent -> upstream references).
func (d *decoder) top(n ast.Node) *Config {
	cfg := &Config{
		Listen:         DefaultListen,
		MaxBodyBytes:   DefaultMaxBodyBytes,
		SessionIdleTTL: DefaultSessionIdleTTL,
		CallTimeout:    DefaultCallTimeout,
		DataDir:        filepath.Join(d.dir, DefaultDataDir),
		Log:            Log{Level: "info", Format: "text"},
		Throttle:       &Throttle{MaxDelay: DefaultThrottleMaxDelay},
		Revalidation:   Revalidation{OnChange: warden.Flag},
		Limits:         defaultLimits(),
	}
	if isNull(n) {
		cfg.Approvals = &Approvals{Timeout: DefaultApprovalTimeout}
		d.errorf(n, "file has no settings; a config needs at least upstreams and agents")
		return cfg
	}
	fields, ok := d.mapping(n, "the config", topFields...)
	if !ok {
		return cfg
	}
	var upstreams, agents *field
	var retentionAt, anchorAt, storeAt ast.Node
	var approvals, approvalsKey ast.Node // decoded after admin, which links depend on
	for i := range fields {
		f := &fields[i]
		if f.name == "approvals" {
			approvals, approvalsKey = f.val, f.key
			continue
		}
		if f.val == nil {
			if f.name == "upstreams" || f.name == "agents" {
				d.errorf(f.key, "%s is empty; at least one is required", f.name)
				upstreams, agents = keep(upstreams, agents, f)
			}
			continue // other null fields keep their defaults
		}
		switch f.name {
		case "listen":
			cfg.Listen = d.listen(f.val, "listen")
		case "allowed_hosts":
			cfg.AllowedHosts = d.hosts(f.val)
		case "allowed_origins":
			cfg.AllowedOrigins = d.origins(f.val)
		case "max_body_bytes":
			if v, ok := d.integer(f.val, "max_body_bytes"); ok {
				if v <= 0 {
					d.errorf(f.val, "max_body_bytes must be positive, got %d", v)
				}
				cfg.MaxBodyBytes = v
			}
		case "session_idle_ttl":
			cfg.SessionIdleTTL, _ = d.duration(f.val, "session_idle_ttl")
		case "call_timeout":
			cfg.CallTimeout, _ = d.duration(f.val, "call_timeout")
		case "data_dir":
			if s, ok := d.nonEmpty(f.val, "data_dir"); ok {
				cfg.DataDir = d.path(s)
			}
		case "log":
			cfg.Log = d.log(f.val)
		case "admin":
			cfg.Admin = d.admin(f.val)
		case "throttle":
			cfg.Throttle = d.throttle(f.val)
		case "revalidation":
			cfg.Revalidation = d.revalidation(f.val)
		case "network":
			cfg.Network = d.network(f.val)
		case "limits":
			cfg.Limits = d.limits(f.val)
		case "retention":
			cfg.Retention, retentionAt = d.retention(f.val), f.key
		case "anchor":
			cfg.Anchor, anchorAt = d.anchor(f.val), f.key
		case "export":
			cfg.Export = d.export(f.val)
		case "store":
			cfg.Store, storeAt = d.store(f.val), f.key
		case "tracing":
			cfg.Tracing = d.tracing(f.val)
		case "rules":
			if p, ok := d.nonEmpty(f.val, "rules"); ok {
				cfg.Rules, _ = d.existing(f.val, "rules", p)
			}
		case "upstreams", "agents":
			upstreams, agents = keep(upstreams, agents, f)
		}
	}
	cfg.Approvals = d.approvals(approvals, approvalsKey, cfg.Admin)
	if upstreams == nil {
		d.errorf(n, "no upstreams: add an upstreams list with at least one MCP server")
	} else if upstreams.val != nil {
		cfg.Upstreams = d.upstreams(upstreams.val, cfg.CallTimeout)
	}
	if agents == nil {
		d.errorf(n, "no agents: add an agents list with at least one agent")
	} else if agents.val != nil {
		cfg.Agents = d.agents(agents.val, cfg.Upstreams)
	}
	d.checkRetention(retentionAt, cfg.Retention, cfg.Agents)
	d.checkStore(cfg.Store, cfg.Listen, storeAt, retentionAt)
	if cfg.Anchor != nil && within(cfg.Anchor.File, cfg.DataDir) {
		d.errorf(anchorAt, "anchor.file %q is inside data_dir: whoever can rewrite the history could rewrite its anchor too; keep it elsewhere", cfg.Anchor.File)
	}
	return cfg
}

// within reports whether path p is dir or under it.
func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return p != "" && err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// keep files the upstreams or agents field into its slot.
func keep(upstreams, agents, f *field) (*field, *field) {
	if f.name == "upstreams" {
		return f, agents
	}
	return upstreams, f
}

// path resolves p against the config file's directory.
func (d *decoder) path(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(d.dir, p)
}

// listen reads a host:port address (host may be empty for all interfaces).
func (d *decoder) listen(n ast.Node, what string) string {
	s, ok := d.nonEmpty(n, what)
	if !ok {
		return ""
	}
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		d.errorf(n, "%s %q is not host:port (e.g. 127.0.0.1:7800)", what, s)
		return s
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || (p == 0 && port != "0") {
		d.errorf(n, "%s %q has port %q; want a number 0-65535", what, s, port)
	}
	return s
}

// hosts reads allowed_hosts: bare host names, no scheme or port.
func (d *decoder) hosts(n ast.Node) []string {
	vals, nodes, _ := d.strList(n, "allowed_hosts")
	for i, h := range vals {
		if h == "" || strings.ContainsAny(h, "/ \t@") {
			d.errorf(nodes[i], "allowed_hosts entry %q is not a host name", h)
		}
	}
	return vals
}

// origins reads allowed_origins: scheme://host[:port], as browsers send them.
func (d *decoder) origins(n ast.Node) []string {
	vals, nodes, _ := d.strList(n, "allowed_origins")
	for i, o := range vals {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			d.errorf(nodes[i], "allowed_origins entry %q is not an origin like https://app.example.com", o)
		}
	}
	return vals
}

// log reads the log section.
func (d *decoder) log(n ast.Node) Log {
	l := Log{Level: "info", Format: "text"}
	fields, _ := d.mapping(n, "log", "level", "format")
	for _, f := range fields {
		if f.val == nil {
			continue
		}
		s, ok := d.str(f.val, "log."+f.name)
		if !ok {
			continue
		}
		switch f.name {
		case "level":
			if !contains([]string{"debug", "info", "warn", "error"}, s) {
				d.errorf(f.val, "log.level %q is not one of debug, info, warn, error", s)
			}
			l.Level = s
		case "format":
			if !contains([]string{"text", "json"}, s) {
				d.errorf(f.val, "log.format %q is not one of text, json", s)
			}
			l.Format = s
		}
	}
	return l
}

// admin reads the admin section.
func (d *decoder) admin(n ast.Node) *Admin {
	a := &Admin{Listen: DefaultAdminListen}
	fields, ok := d.mapping(n, "admin", "listen", "token_sha256", "token_env", "token_file", "tokens")
	if !ok {
		return a
	}
	var tokens []field
	var named ast.Node
	for _, f := range fields {
		switch f.name {
		case "listen":
			if f.val != nil {
				a.Listen = d.listen(f.val, "admin.listen")
			}
		case "tokens":
			named = f.val
		default:
			tokens = append(tokens, f)
		}
	}
	a.TokenSHA256, _, a.TokenEnv, a.TokenFile = d.token(n, "admin", tokens)
	if named != nil {
		a.Tokens = d.adminTokens(named, a.TokenSHA256)
	}
	return a
}
