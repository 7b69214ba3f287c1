package config

import (
	"errors"
	"os"
	"strconv"
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
	f.Add(fix(minimal + "    retention: {max_bytes: 1.5GiB}\n    record_results: {default: digest, tools: {\"a*\": full}}\nretention: {max_age: 1h, export_dir: x, every: 5m}\n"))
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

// FuzzParseByteSize: a size is refused or is a positive number of bytes
// that reads back the same when written as a plain integer.
func FuzzParseByteSize(f *testing.F) {
	for _, s := range []string{"10GiB", "500 MB", "1.5KiB", "4096", "", "B", "-1", "1e3", "0x10", "NaN", "9e18TiB", "1.0000000001B"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := parseByteSize(s)
		if err != nil {
			return
		}
		if v < 1 {
			t.Fatalf("parseByteSize(%q) = %d, want positive", s, v)
		}
		again, err := parseByteSize(strconv.FormatInt(v, 10))
		if err != nil || again != v {
			t.Fatalf("%d does not read back: %d, %v", v, again, err)
		}
	})
}
