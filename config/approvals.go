package config

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
)

// Defaults and bounds of the approvals section.
const (
	// DefaultApprovalTimeout is how long a step-up holds a call before it
	// is denied, unless approvals.timeout or the workflow step says otherwise.
	DefaultApprovalTimeout = 2 * time.Minute
	// MinSecretBytes is the shortest approvals secret accepted (128 bits).
	MinSecretBytes = 16
)

// Approvals configures step-up approvals: how long a held call waits, who
// is told, and how decision links are signed and addressed. Parse always
// sets it, with defaults when the section is absent.
type Approvals struct {
	// Timeout is how long a step-up holds a call before it is denied.
	Timeout time.Duration
	// Webhooks receive a signed JSON POST per approval, flag and kill.
	Webhooks []Webhook
	// SecretEnv names the environment variable the secret was read from.
	SecretEnv string
	// Secret is the HMAC key for webhook signatures and decision links, at
	// least MinSecretBytes long; set whenever Webhooks are.
	Secret Secret
	// PublicURL is the base of decision links (the admin API serves
	// /v1/decide under it), without a trailing slash; "" when there is no
	// admin API to serve them.
	PublicURL string
	// Elicitation also asks the human at the agent's MCP client, when the
	// client supports elicitation.
	Elicitation bool
}

// Webhook is one approver endpoint.
type Webhook struct {
	// URL is an http or https URL. It may carry a credential (Slack's do),
	// so it is never logged whole.
	URL string
	// Slack sends a Slack-compatible payload instead of warden's JSON.
	Slack bool
}

// approvalFields are the keys of the approvals section.
var approvalFields = []string{"timeout", "webhooks", "secret_env", "public_url", "elicitation"}

// approvals reads the approvals section (n is nil when it is absent);
// admin is the decoded admin section, whose listener serves decision links.
func (d *decoder) approvals(n, key ast.Node, admin *Admin) *Approvals {
	a := &Approvals{Timeout: DefaultApprovalTimeout}
	var publicURL, webhooks, secret ast.Node
	if n != nil {
		fields, ok := d.mapping(n, "approvals", approvalFields...)
		if !ok {
			return a
		}
		for _, f := range fields {
			if f.val == nil {
				continue // null keeps the default
			}
			switch f.name {
			case "timeout":
				if t, ok := d.duration(f.val, "approvals.timeout"); ok {
					a.Timeout = t
				}
			case "webhooks":
				webhooks = f.val
				a.Webhooks = d.webhooks(f.val)
			case "secret_env":
				secret = f.val
				a.SecretEnv, a.Secret = d.secret(f.val)
			case "public_url":
				publicURL = f.val
				a.PublicURL = d.publicURL(f.val)
			case "elicitation":
				a.Elicitation, _ = d.boolean(f.val, "approvals.elicitation")
			}
		}
	}
	if len(a.Webhooks) > 0 && secret == nil {
		d.errorf(webhooks, "approvals.webhooks need approvals.secret_env: the variable holding the key (at least %d bytes) that signs webhooks and decision links", MinSecretBytes)
	}
	switch {
	case publicURL != nil && admin == nil:
		d.errorf(publicURL, "approvals.public_url is where decision links point, and the admin API serves them: add an admin section")
	case publicURL == nil && admin != nil:
		a.PublicURL = d.linkBase(admin, webhooks, key)
	}
	return a
}

// webhooks reads the list of approver endpoints.
func (d *decoder) webhooks(n ast.Node) []Webhook {
	items, ok := d.list(n, "approvals.webhooks")
	if !ok {
		return nil
	}
	seen := map[string]ast.Node{}
	var out []Webhook
	for i, it := range items {
		what := fmt.Sprintf("approvals.webhooks[%d]", i)
		if na, null := it.(nilAt); null {
			d.errorf(na.Node, "%s is empty", what)
			continue
		}
		fields, ok := d.mapping(it, what, "url", "slack")
		if !ok {
			continue
		}
		var w Webhook
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
				// Slack's URLs are credentials, so they may come from the
				// environment like headers do.
				w.URL = d.expand(f.val, s, what+".url")
				if w.URL == "" {
					continue
				}
				if !httpURL(w.URL) {
					d.errorf(f.val, "%s.url %q is not an http:// or https:// URL", what, redactURL(w.URL))
					continue
				}
				if first, dup := seen[w.URL]; dup {
					line, col := position(first)
					d.errorf(f.val, "%s.url is listed twice (first at %d:%d)", what, line, col)
					continue
				}
				seen[w.URL] = f.val
			case "slack":
				if f.val != nil {
					w.Slack, _ = d.boolean(f.val, what+".slack")
				}
			}
		}
		if !hasURL {
			d.errorf(it, "%s needs a url", what)
			continue
		}
		out = append(out, w)
	}
	return out
}

// secret reads secret_env and the key it names.
func (d *decoder) secret(n ast.Node) (string, Secret) {
	return d.secretEnv(n, "approvals.secret_env")
}

// publicURL reads an explicit base for decision links.
func (d *decoder) publicURL(n ast.Node) string {
	s, ok := d.nonEmpty(n, "approvals.public_url")
	if !ok {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || !httpURL(s) || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		d.errorf(n, "approvals.public_url %q is not a base URL like https://warden.example.com (http or https, no credentials, query or fragment)", redactURL(s))
		return ""
	}
	return strings.TrimRight(s, "/")
}

// linkBase derives the decision links' base from the admin listener. A
// listener on every interface names no host a link could use; that is an
// error only when webhooks would carry the links.
func (d *decoder) linkBase(admin *Admin, webhooks, key ast.Node) string {
	host, port, err := net.SplitHostPort(admin.Listen)
	if err != nil {
		return "" // admin.listen is reported already
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		if webhooks != nil {
			d.errorf(key, "approvals.public_url is needed: admin.listen %q names no host a decision link could use", admin.Listen)
		}
		return ""
	}
	return "http://" + net.JoinHostPort(host, port)
}

// httpURL reports whether s is an absolute http or https URL with a host.
func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// boolean reads true or false.
func (d *decoder) boolean(n ast.Node, what string) (bool, bool) {
	b, ok := n.(*ast.BoolNode)
	if !ok {
		d.errorf(n, "%s must be true or false, got %s", what, kind(n))
		return false, false
	}
	return b.Value, true
}
