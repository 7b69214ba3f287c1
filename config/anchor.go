package config

import (
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
)

// DefaultAnchorEvery is how often warden writes a checkpoint of its chain
// heads when anchor is configured.
const DefaultAnchorEvery = 5 * time.Minute

// Anchor configures checkpoints of the history's chain heads, signed and
// kept outside the data directory, which `warden verify --anchor FILE`
// checks the history against.
type Anchor struct {
	// File receives one signed checkpoint per line (JSON Lines, fsync'd);
	// absolute, or "" for none.
	File string
	// Webhook receives each checkpoint as a signed POST; "" for none. At
	// least one of File and Webhook is set.
	Webhook string
	// SecretEnv names the environment variable the key was read from.
	SecretEnv string
	// Secret is the HMAC key that signs checkpoints (and the webhook's
	// requests), at least MinSecretBytes long.
	Secret Secret
	// Every is the interval between checkpoints.
	Every time.Duration
}

// anchor reads the top-level anchor section.
func (d *decoder) anchor(n ast.Node) *Anchor {
	a := &Anchor{Every: DefaultAnchorEvery}
	fields, ok := d.mapping(n, "anchor", "file", "webhook", "secret_env", "every")
	if !ok {
		return a
	}
	var secret ast.Node
	for _, f := range fields {
		if f.val == nil {
			continue
		}
		switch f.name {
		case "file":
			if s, ok := d.nonEmpty(f.val, "anchor.file"); ok {
				a.File = d.path(s)
			}
		case "webhook":
			s, ok := d.nonEmpty(f.val, "anchor.webhook")
			if !ok {
				continue
			}
			if a.Webhook = d.expand(f.val, s, "anchor.webhook"); a.Webhook != "" && !httpURL(a.Webhook) {
				d.errorf(f.val, "anchor.webhook %q is not an http:// or https:// URL", redactURL(a.Webhook))
			}
		case "secret_env":
			secret = f.val
			a.SecretEnv, a.Secret = d.secretEnv(f.val, "anchor.secret_env")
		case "every":
			if v, ok := d.duration(f.val, "anchor.every"); ok {
				a.Every = v
			}
		}
	}
	if a.File == "" && a.Webhook == "" {
		d.errorf(n, "anchor needs a file or a webhook (or both) to keep checkpoints in, outside the data directory")
	}
	if secret == nil {
		d.errorf(n, "anchor needs secret_env: the variable holding the key (at least %d bytes) that signs checkpoints", MinSecretBytes)
	}
	return a
}

// secretEnv reads an environment variable's name (at n) and the key it
// holds, which must be at least MinSecretBytes long; what names the field.
func (d *decoder) secretEnv(n ast.Node, what string) (string, Secret) {
	name, v, ok := d.envValue(n, what)
	if !ok {
		return name, nil
	}
	switch {
	case v == "" && d.unsetWarns:
		d.unset(n, what, name)
		return name, Secret(strings.Repeat("x", MinSecretBytes)) // checked, never served
	case v == "":
		d.unset(n, what, name)
		return name, nil
	case len(v) < MinSecretBytes:
		d.errorf(n, "%s: the value of %s is %d bytes; it must be at least %d (e.g. `openssl rand -hex 32`)", what, name, len(v), MinSecretBytes)
		return name, nil
	}
	return name, Secret(v)
}

// envValue reads an environment variable's name (at n) and its value; ok
// is false, with the problem reported, when n holds no valid name.
func (d *decoder) envValue(n ast.Node, what string) (name, value string, ok bool) {
	if name, ok = d.str(n, what); !ok {
		return "", "", false
	}
	if !validEnvName(name) {
		d.errorf(n, "%s %q is not an environment variable name", what, name)
		return name, "", false
	}
	return name, d.getenv(name), true
}
