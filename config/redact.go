package config

import (
	"fmt"
	"log/slog"
	"net/url"
	"sort"
	"strings"
)

// String summarises the config for logs without secrets: no token
// hashes, argument values, environment values or header values.
func (c *Config) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "listen=%s data_dir=%s max_body_bytes=%d session_idle_ttl=%s call_timeout=%s log=%s/%s",
		c.Listen, c.DataDir, c.MaxBodyBytes, c.SessionIdleTTL, c.CallTimeout, c.Log.Level, c.Log.Format)
	if c.Admin != nil {
		fmt.Fprintf(&b, " admin=%s", c.Admin.Listen)
	}
	if c.Approvals != nil {
		fmt.Fprintf(&b, " approvals{%s}", c.Approvals)
	}
	if c.Throttle != nil {
		fmt.Fprintf(&b, " throttle{%s}", c.Throttle)
	}
	fmt.Fprintf(&b, " revalidation.on_change=%s", c.Revalidation.OnChange)
	for _, u := range c.Upstreams {
		fmt.Fprintf(&b, " upstream{%s}", u)
	}
	for _, a := range c.Agents {
		fmt.Fprintf(&b, " agent{%s}", a)
	}
	return b.String()
}

// GoString keeps %#v from printing secrets.
func (c *Config) GoString() string { return "config.Config{" + c.String() + "}" }

// LogValue gives slog the same redacted summary.
func (c *Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// String summarises the upstream without secrets.
func (u *Upstream) String() string {
	s := fmt.Sprintf("name=%s transport=%s call_timeout=%s", u.Name, u.Transport, u.CallTimeout)
	if u.ToolPrefix != "" {
		s += " tool_prefix=" + u.ToolPrefix
	}
	s += " sessions=" + string(u.Sessions)
	if u.Sessions != SessionsShared {
		s += fmt.Sprintf(" max_sessions=%d session_idle_timeout=%s spare_sessions=%d", u.MaxSessions, u.SessionIdleTimeout, u.SpareSessions)
	}
	if u.Stdio != nil {
		s += " " + u.Stdio.String()
	}
	if u.Remote != nil {
		s += " " + u.Remote.String()
	}
	return s
}

// GoString keeps %#v from printing secrets.
func (u *Upstream) GoString() string { return "config.Upstream{" + u.String() + "}" }

// LogValue gives slog the redacted summary.
func (u *Upstream) LogValue() slog.Value { return slog.StringValue(u.String()) }

// String shows the command and the names of env variables, but not the
// arguments or values, which may hold expanded secrets.
func (s *Stdio) String() string {
	return fmt.Sprintf("command=%s args=%d env=[%s] dir=%s", s.Command, len(s.Args), strings.Join(sortedKeys(s.Env), ","), s.Dir)
}

// GoString keeps %#v from printing secrets.
func (s *Stdio) GoString() string { return "config.Stdio{" + s.String() + "}" }

// String shows the URL without credentials or query and the header names.
func (r *Remote) String() string {
	return fmt.Sprintf("url=%s headers=[%s]", redactURL(r.URL), strings.Join(sortedKeys(r.Headers), ","))
}

// GoString keeps %#v from printing secrets.
func (r *Remote) GoString() string { return "config.Remote{" + r.String() + "}" }

// String shows the agent's name and permissions, not its token hash.
func (a *Agent) String() string {
	s := fmt.Sprintf("name=%s upstreams=[%s] tools=[%s]", a.Name, strings.Join(a.Upstreams, ","), strings.Join(a.Tools, ","))
	if a.Workflow != "" {
		s += " workflow=" + a.Workflow
	}
	if a.Throttle != nil {
		s += " throttle=" + a.Throttle.String()
	}
	return s
}

// GoString keeps %#v from printing the token hash.
func (a *Agent) GoString() string { return "config.Agent{" + a.String() + "}" }

// String shows the admin listen address, not the token hash.
func (a *Admin) String() string { return "listen=" + a.Listen }

// GoString keeps %#v from printing the token hash.
func (a *Admin) GoString() string { return "config.Admin{" + a.String() + "}" }

// String shows the approval settings: the secret's variable name, never
// its value, and only the scheme and host of each webhook.
func (a *Approvals) String() string {
	hooks := make([]string, len(a.Webhooks))
	for i, w := range a.Webhooks {
		hooks[i] = w.String()
	}
	return fmt.Sprintf("timeout=%s webhooks=[%s] secret_env=%s public_url=%s elicitation=%t",
		a.Timeout, strings.Join(hooks, ","), a.SecretEnv, redactURL(a.PublicURL), a.Elicitation)
}

// GoString keeps %#v from printing the secret.
func (a *Approvals) GoString() string { return "config.Approvals{" + a.String() + "}" }

// LogValue gives slog the redacted summary.
func (a *Approvals) LogValue() slog.Value { return slog.StringValue(a.String()) }

// String shows the webhook's scheme and host only: webhook paths (Slack's,
// for one) are often the credential.
func (w Webhook) String() string {
	s := "<unparseable url>"
	if u, err := url.Parse(w.URL); err == nil {
		s = u.Scheme + "://" + u.Host + "/…"
	}
	if w.Slack {
		s += " (slack)"
	}
	return s
}

// GoString keeps %#v from printing the webhook's path.
func (w Webhook) GoString() string { return "config.Webhook{" + w.String() + "}" }

// String shows the limits.
func (t *Throttle) String() string {
	return fmt.Sprintf("session=%s agent=%s max_delay=%s", t.Session, t.Agent, t.MaxDelay)
}

// redactURL drops user info, query and fragment, where credentials hide.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "<unparseable url>"
	}
	u.User, u.RawQuery, u.Fragment, u.RawFragment = nil, "", "", ""
	return u.String()
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
