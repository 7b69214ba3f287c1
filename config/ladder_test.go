package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/warden-dev/warden"
)

// hookSecret is a webhook secret long enough to be accepted.
const hookSecret = "0123456789abcdef-hook"

// ladderEnv serves the webhook secret and a Slack URL.
var ladderEnv = envOf("HOOK_SECRET", hookSecret, "SLACK_URL", "https://hooks.slack.com/services/T0/B0/slackpathsecret", "SHORT", "too-short")

func TestParseLadderDefaults(t *testing.T) {
	cfg, err := Parse("w.yaml", fix(minimal), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Approvals == nil || cfg.Throttle == nil {
		t.Fatalf("approvals %v, throttle %v: want both set with defaults", cfg.Approvals, cfg.Throttle)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"approvals.timeout", cfg.Approvals.Timeout, DefaultApprovalTimeout},
		{"webhooks", len(cfg.Approvals.Webhooks), 0},
		{"secret", cfg.Approvals.Secret == nil, true},
		{"public_url without admin", cfg.Approvals.PublicURL, ""},
		{"elicitation", cfg.Approvals.Elicitation, false},
		{"throttle.session", cfg.Throttle.Session == nil, true},
		{"throttle.agent", cfg.Throttle.Agent == nil, true},
		{"throttle.max_delay", cfg.Throttle.MaxDelay, DefaultThrottleMaxDelay},
		{"revalidation.on_change", cfg.Revalidation.OnChange, warden.Flag},
		{"agent throttle", cfg.Agents[0].Throttle == nil, true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestParseLadderFields(t *testing.T) {
	cases := []struct {
		name  string
		extra string
		check func(t *testing.T, c *Config)
	}{
		{"full approvals", `admin: {listen: "[::1]:7900", token_sha256: $H}
approvals:
  timeout: 90s
  webhooks:
    - url: https://hooks.example/warden
    - {url: "${SLACK_URL}", slack: true}
  secret_env: HOOK_SECRET
  elicitation: true
`, func(t *testing.T, c *Config) {
			a := c.Approvals
			if a.Timeout != 90*time.Second || !a.Elicitation || a.SecretEnv != "HOOK_SECRET" || string(a.Secret) != hookSecret {
				t.Errorf("approvals = %v (secret %q)", a, string(a.Secret))
			}
			want := []Webhook{{URL: "https://hooks.example/warden"}, {URL: "https://hooks.slack.com/services/T0/B0/slackpathsecret", Slack: true}}
			if fmt.Sprint(len(a.Webhooks)) != "2" || a.Webhooks[0] != want[0] || a.Webhooks[1] != want[1] {
				t.Errorf("webhooks = %#v, want %#v", a.Webhooks, want)
			}
			if a.PublicURL != "http://[::1]:7900" {
				t.Errorf("public_url = %q, want the admin listener", a.PublicURL)
			}
		}},
		{"explicit public_url wins, trailing slash dropped", "admin: {listen: 0.0.0.0:7801, token_sha256: $H}\napprovals: {public_url: \"https://warden.example.com/ops/\"}\n",
			func(t *testing.T, c *Config) {
				if c.Approvals.PublicURL != "https://warden.example.com/ops" {
					t.Errorf("public_url = %q", c.Approvals.PublicURL)
				}
			}},
		{"unspecified admin host without webhooks gives no links", "admin: {listen: \":7801\", token_sha256: $H}\n",
			func(t *testing.T, c *Config) {
				if c.Approvals.PublicURL != "" {
					t.Errorf("public_url = %q, want none", c.Approvals.PublicURL)
				}
			}},
		{"null approvals keeps defaults", "approvals:\n", func(t *testing.T, c *Config) {
			if c.Approvals.Timeout != DefaultApprovalTimeout {
				t.Errorf("timeout = %v", c.Approvals.Timeout)
			}
		}},
		{"throttle", "throttle:\n  session: {per_minute: 0.5, burst: 1}\n  max_delay: 0s\n", func(t *testing.T, c *Config) {
			if *c.Throttle.Session != (Rate{PerMinute: 0.5, Burst: 1}) || c.Throttle.Agent != nil || c.Throttle.MaxDelay != 0 {
				t.Errorf("throttle = %v", c.Throttle)
			}
		}},
		{"max_delay bare zero", "throttle: {max_delay: 0}\n", func(t *testing.T, c *Config) {
			if c.Throttle.MaxDelay != 0 {
				t.Errorf("max_delay = %v", c.Throttle.MaxDelay)
			}
		}},
		{"agent throttle", "    throttle: {per_minute: 30, burst: 5}\n", func(t *testing.T, c *Config) {
			if c.Agents[0].Throttle == nil || *c.Agents[0].Throttle != (Rate{PerMinute: 30, Burst: 5}) {
				t.Errorf("agent throttle = %v", c.Agents[0].Throttle)
			}
		}},
		{"on_change step-up spelling", "revalidation: {on_change: step-up}\n", func(t *testing.T, c *Config) {
			if c.Revalidation.OnChange != warden.StepUp {
				t.Errorf("on_change = %v", c.Revalidation.OnChange)
			}
		}},
		{"on_change kill", "revalidation: {on_change: kill}\n", func(t *testing.T, c *Config) {
			if c.Revalidation.OnChange != warden.Kill {
				t.Errorf("on_change = %v", c.Revalidation.OnChange)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Parse("w.yaml", fix(minimal+c.extra), ladderEnv)
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, cfg)
		})
	}
}

func TestParseLadderErrors(t *testing.T) {
	admin := "admin: {token_sha256: $H}\n"
	cases := []struct {
		name  string
		src   string
		wants []want
	}{
		{"approvals not a mapping", minimal + "approvals: 2m\n", []want{{7, 12, "approvals must be a mapping, got a string"}}},
		{"approvals typo", minimal + "approvals: {timeot: 1m}\n", []want{{7, 13, `unknown field "timeot" in approvals; did you mean "timeout"?`}}},
		{"timeout without unit", minimal + "approvals: {timeout: 120}\n", []want{{7, 22, "approvals.timeout 120 needs a unit"}}},
		{"timeout zero", minimal + "approvals: {timeout: 0s}\n", []want{{7, 22, "approvals.timeout must be positive"}}},
		{"webhooks without secret", minimal + admin + "approvals:\n  webhooks: [{url: https://h.example/x}]\n", []want{{9, 13, "approvals.webhooks need approvals.secret_env"}}},
		{"webhook not http", minimal + admin + "approvals:\n  secret_env: HOOK_SECRET\n  webhooks: [{url: ftp://h.example/x}]\n", []want{{10, 20, `approvals.webhooks[0].url "ftp://h.example/x" is not an http:// or https:// URL`}}},
		{"webhook without url", minimal + admin + "approvals:\n  secret_env: HOOK_SECRET\n  webhooks: [{slack: true}]\n", []want{{10, 14, "approvals.webhooks[0] needs a url"}}},
		{"webhook slack not bool", minimal + admin + "approvals:\n  secret_env: HOOK_SECRET\n  webhooks: [{url: 'https://h/x', slack: yes please}]\n", []want{{10, 42, "approvals.webhooks[0].slack must be true or false, got a string"}}},
		{"webhook twice", minimal + admin + "approvals:\n  secret_env: HOOK_SECRET\n  webhooks:\n    - url: https://h/x\n    - url: https://h/x\n", []want{{12, 12, "approvals.webhooks[1].url is listed twice (first at 11:12)"}}},
		{"webhook env unset", minimal + admin + "approvals:\n  secret_env: HOOK_SECRET\n  webhooks: [{url: '${NOPE}'}]\n", []want{{10, 20, "environment variable NOPE is not set"}}},
		{"webhook null item", minimal + admin + "approvals:\n  secret_env: HOOK_SECRET\n  webhooks:\n    -\n", []want{{11, 7, "approvals.webhooks[0] is empty"}}},
		{"secret unset", minimal + "approvals: {secret_env: UNSET_SECRET}\n", []want{{7, 25, "environment variable UNSET_SECRET is not set or empty"}}},
		{"secret short", minimal + "approvals: {secret_env: SHORT}\n", []want{{7, 25, "the value of SHORT is 9 bytes; it must be at least 16"}}},
		{"secret bad name", minimal + "approvals: {secret_env: 'my secret'}\n", []want{{7, 25, `"my secret" is not an environment variable name`}}},
		{"public_url without admin", minimal + "approvals: {public_url: 'https://w.example'}\n", []want{{7, 25, "the admin API serves them: add an admin section"}}},
		{"public_url not a base", minimal + admin + "approvals: {public_url: 'https://w.example/?a=b'}\n", []want{{8, 25, "is not a base URL"}}},
		{"public_url relative", minimal + admin + "approvals: {public_url: /links}\n", []want{{8, 25, `approvals.public_url "/links" is not a base URL`}}},
		{"webhooks with unspecified admin host", minimal + "admin: {listen: '0.0.0.0:7801', token_sha256: $H}\napprovals:\n  secret_env: HOOK_SECRET\n  webhooks: [{url: https://h/x}]\n",
			[]want{{8, 1, `approvals.public_url is needed: admin.listen "0.0.0.0:7801" names no host`}}},
		{"elicitation not bool", minimal + "approvals: {elicitation: 1}\n", []want{{7, 26, "approvals.elicitation must be true or false, got an integer"}}},
		{"throttle typo", minimal + "throttle: {sesion: {per_minute: 1, burst: 1}}\n", []want{{7, 12, `unknown field "sesion" in throttle; did you mean "session"?`}}},
		{"rate zero", minimal + "throttle: {session: {per_minute: 0, burst: 1}}\n", []want{{7, 34, "throttle.session.per_minute must be positive, got 0"}}},
		{"rate negative", minimal + "throttle: {agent: {per_minute: -2.5, burst: 1}}\n", []want{{7, 32, "throttle.agent.per_minute must be positive, got -2.5"}}},
		{"rate infinite", minimal + "throttle: {agent: {per_minute: .inf, burst: 1}}\n", []want{{7, 32, "must be a finite number"}}},
		{"rate string", minimal + "throttle: {agent: {per_minute: fast, burst: 1}}\n", []want{{7, 32, "throttle.agent.per_minute must be a number, got a string"}}},
		{"burst zero", minimal + "throttle: {session: {per_minute: 60, burst: 0}}\n", []want{{7, 45, "throttle.session.burst must be between 1 and 1000000, got 0"}}},
		{"burst fractional", minimal + "throttle: {session: {per_minute: 60, burst: 1.5}}\n", []want{{7, 45, "throttle.session.burst must be an integer, got a number"}}},
		{"rate missing burst", minimal + "throttle:\n  session: {per_minute: 60}\n", []want{{8, 12, "throttle.session needs per_minute"}}},
		{"rate missing both", minimal + "throttle:\n  session: {}\n", []want{{8, 12, "throttle.session needs per_minute"}}},
		{"max_delay negative", minimal + "throttle: {max_delay: -1s}\n", []want{{7, 23, "throttle.max_delay must be positive"}}},
		{"max_delay no unit", minimal + "throttle: {max_delay: 2}\n", []want{{7, 23, "needs a unit"}}},
		{"agent throttle burst", minimal + "    throttle: {per_minute: 30, burst: -1}\n", []want{{7, 39, "agents[0].throttle.burst must be between 1"}}},
		{"agent throttle typo", minimal + "    throtle: {per_minute: 30, burst: 1}\n", []want{{7, 5, `did you mean "throttle"?`}}},
		{"on_change deny", minimal + "revalidation: {on_change: deny}\n", []want{{7, 27, `revalidation.on_change "deny" is not one of flag, step_up, kill`}}},
		{"on_change unknown", minimal + "revalidation: {on_change: panic}\n", []want{{7, 27, `"panic" is not one of flag, step_up, kill`}}},
		{"revalidation typo", minimal + "revalidation: {onchange: kill}\n", []want{{7, 16, `did you mean "on_change"?`}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mustFail(t, fix(c.src), ladderEnv, c.wants...)
		})
	}
}

// TestLadderSecretsNotPrinted: the webhook secret and the credential in a
// webhook URL's path appear in no rendering of the config.
func TestLadderSecretsNotPrinted(t *testing.T) {
	src := minimal + `admin: {token_sha256: $H}
approvals:
  secret_env: HOOK_SECRET
  webhooks: [{url: "${SLACK_URL}", slack: true}, {url: "https://u:pw@h.example/p?k=querykey"}]
`
	cfg, err := Parse("w.yaml", fix(src), ladderEnv)
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("loaded", "config", cfg, "approvals", cfg.Approvals, "secret", cfg.Approvals.Secret)
	// Only the secret has a JSON form of its own; the config is not JSON.
	js, err := json.Marshal(cfg.Approvals.Secret)
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Approvals
	outputs := map[string]string{
		"config":        cfg.String(),
		"%+v approvals": fmt.Sprintf("%+v", a),
		"%#v approvals": fmt.Sprintf("%#v", a),
		"%+v value":     fmt.Sprintf("%+v", *a),
		"%#v value":     fmt.Sprintf("%#v", *a),
		"%x secret":     fmt.Sprintf("%x", a.Secret),
		"%s secret":     fmt.Sprintf("%s", a.Secret),
		"%v webhooks":   fmt.Sprintf("%v", a.Webhooks),
		"%#v webhooks":  fmt.Sprintf("%#v", a.Webhooks),
		"json":          string(js),
		"slog":          logged.String(),
	}
	secrets := []string{hookSecret, fmt.Sprintf("%x", hookSecret), "slackpathsecret", "querykey", "pw@"}
	for name, out := range outputs {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("%s output contains secret %q:\n%s", name, s, out)
			}
		}
	}
	for _, part := range []string{"secret_env=HOOK_SECRET", "https://hooks.slack.com/… (slack)", "https://h.example/…", "public_url=http://127.0.0.1:7801"} {
		if !strings.Contains(outputs["config"], part) {
			t.Errorf("summary lacks %q:\n%s", part, outputs["config"])
		}
	}
	// The secret is still usable as bytes.
	var key []byte = a.Secret
	if string(key) != hookSecret {
		t.Errorf("secret bytes = %q", key)
	}
}
