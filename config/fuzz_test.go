package config

import (
	"errors"
	"os"
	"testing"
)

// FuzzParse checks that no input panics and that every failure is an
// Errors whose problems all have a position and a message.
func FuzzParse(f *testing.F) {
	if data, err := os.ReadFile(examplePath); err == nil {
		f.Add(data)
	}
	f.Add(fix(minimal))
	f.Add([]byte(envConfig))
	f.Add(fix(minimal + "    throttle: {per_minute: 3, burst: 1}\nadmin: {token_sha256: $H}\napprovals: {secret_env: X, webhooks: [{url: 'https://h/x', slack: true}], timeout: 1m}\nthrottle: {session: {per_minute: 1.5, burst: 2}, max_delay: 0}\nrevalidation: {on_change: kill}\n"))
	for _, s := range []string{"", "{", "- a", "a: *b", "a: &x [*x]", "\t\x00", "upstreams: [{name: a, http: {url: 'http://x'}}]\nagents: [{name: b, token_env: X}]",
		"x: !!binary aGVsbG8=", "? [a]\n: b", "<<: *a", "%YAML 1.2\n---\nlisten: 1", "a: |\n  b\n---\n...\n"} {
		f.Add([]byte(s))
	}
	env := envOf("X", "v-sixteen-bytes-long", "API_KEY", "k", "DB_PASSWORD", "p", "UPSTREAM_TOKEN", "t", "BOT_TOKEN", "b")
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("f.yaml", data, env)
		if err == nil {
			if cfg == nil || len(cfg.Upstreams) == 0 || len(cfg.Agents) == 0 {
				t.Fatalf("Parse succeeded with an incomplete config: %v", cfg)
			}
			return
		}
		var errs Errors
		if !errors.As(err, &errs) || len(errs) == 0 {
			t.Fatalf("error %T %v is not a non-empty Errors", err, err)
		}
		for _, e := range errs {
			if e.Line < 1 || e.Col < 1 || e.Msg == "" || e.File != "f.yaml" {
				t.Fatalf("problem without position or message: %#v", e)
			}
		}
	})
}
