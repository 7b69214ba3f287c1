package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
)

// Defaults of an agent's judge section, the same as the judge's own.
const (
	DefaultJudgeTimeout   = 5 * time.Second
	DefaultJudgePerMinute = 60
	DefaultJudgeCacheSize = 1024
	DefaultJudgeCacheTTL  = 10 * time.Minute
)

// Judge configures the model an agent's calls are judged by: whether a
// call is consistent with the session's declared intent. Every field is
// set after loading, with the defaults for what the file leaves out.
type Judge struct {
	// Endpoint is the base URL of an OpenAI-compatible API: https, or
	// http on a loopback host.
	Endpoint string
	// Model is the model asked.
	Model string
	// KeyEnv names the environment variable holding the API key; "" for
	// an endpoint that needs none. It is read when warden starts, not at
	// load, so that a config can be validated without the key.
	KeyEnv string
	// Timeout bounds one judgement; PerMinute is the budget of model
	// calls; CacheSize answers are kept for CacheTTL, by prompt.
	Timeout   time.Duration
	PerMinute int
	CacheSize int
	CacheTTL  time.Duration
	// MayClear lets the judge clear a step-up caused only by values with
	// no trusted source when the call is consistent with the intent;
	// MayRaise lets it raise allow, flag or throttle to step_up when the
	// call is not.
	MayClear, MayRaise bool
}

// judge reads an agent's judge section.
func (d *decoder) judge(n ast.Node, what string) *Judge {
	j := &Judge{Timeout: DefaultJudgeTimeout, PerMinute: DefaultJudgePerMinute, CacheSize: DefaultJudgeCacheSize,
		CacheTTL: DefaultJudgeCacheTTL, MayClear: true, MayRaise: true}
	fields, ok := d.mapping(n, what, "endpoint", "model", "key_env", "timeout", "per_minute", "cache_size", "cache_ttl", "may_clear", "may_raise")
	if !ok {
		return nil
	}
	for _, f := range fields {
		if f.val == nil {
			if f.name == "endpoint" || f.name == "model" {
				d.errorf(f.key, "%s.%s is empty", what, f.name)
			}
			continue // null keeps the default
		}
		w := what + "." + f.name
		switch f.name {
		case "endpoint":
			if s, ok := d.nonEmpty(f.val, w); ok {
				if err := CheckJudgeEndpoint(s); err != nil {
					d.errorf(f.val, "%s: %v", w, err)
				}
				j.Endpoint = s
			}
		case "model":
			j.Model, _ = d.nonEmpty(f.val, w)
		case "key_env":
			if s, ok := d.str(f.val, w); ok {
				if !validEnvName(s) {
					d.errorf(f.val, "%s %q is not an environment variable name", w, s)
				}
				j.KeyEnv = s
			}
		case "timeout":
			j.Timeout = d.durationOr(f.val, w, j.Timeout)
		case "cache_ttl":
			j.CacheTTL = d.durationOr(f.val, w, j.CacheTTL)
		case "per_minute":
			j.PerMinute = d.positive(f.val, w, j.PerMinute)
		case "cache_size":
			j.CacheSize = d.positive(f.val, w, j.CacheSize)
		case "may_clear":
			j.MayClear = d.booleanOr(f.val, w, j.MayClear)
		case "may_raise":
			j.MayRaise = d.booleanOr(f.val, w, j.MayRaise)
		}
	}
	if !hasField(fields, "endpoint") || !hasField(fields, "model") {
		d.errorf(n, "%s needs endpoint (an OpenAI-compatible API's base URL) and model, e.g. {endpoint: https://api.openai.com/v1, model: gpt-4o-mini, key_env: OPENAI_API_KEY}", what)
	}
	return j
}

// CheckJudgeEndpoint says why s cannot be a judge's endpoint: it must be
// an http or https base URL without credentials, query or fragment, and
// https unless its host is loopback, since the API key and the calls'
// arguments would otherwise travel in clear.
func CheckJudgeEndpoint(s string) error {
	if strings.Contains(s, "${") {
		return errors.New("${VAR} is not expanded in a judge endpoint; put the key in key_env")
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("%q is not an http:// or https:// URL", redactURL(s))
	case u.User != nil:
		return fmt.Errorf("%q holds credentials; put the API key in key_env", redactURL(s))
	case u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("%q is not a base URL like https://api.openai.com/v1 (no query or fragment)", redactURL(s))
	case u.Scheme == "http" && !loopbackHost(u.Hostname()):
		return fmt.Errorf("%q must be https unless its host is loopback (localhost, 127.0.0.0/8, ::1): the API key and the calls' arguments would travel in clear", s)
	}
	return nil
}

// loopbackHost reports whether host names this machine without leaving it.
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// durationOr reads a duration, or reports it and keeps def.
func (d *decoder) durationOr(n ast.Node, what string, def time.Duration) time.Duration {
	if v, ok := d.duration(n, what); ok {
		return v
	}
	return def
}

// booleanOr reads true or false, or reports it and keeps def.
func (d *decoder) booleanOr(n ast.Node, what string, def bool) bool {
	if v, ok := d.boolean(n, what); ok {
		return v
	}
	return def
}

// hasField reports whether a mapping's fields include name, even as null.
func hasField(fields []field, name string) bool {
	for _, f := range fields {
		if f.name == name {
			return true
		}
	}
	return false
}
