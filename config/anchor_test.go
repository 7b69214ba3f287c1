package config

import (
	"strings"
	"testing"
	"time"
)

func TestParseAnchor(t *testing.T) {
	key := strings.Repeat("k", MinSecretBytes)
	src := minimal + "anchor: {file: ../anchor/cp.jsonl, webhook: \"https://siem.example/a\", secret_env: AK}\n"
	cfg, err := Parse("/etc/warden/w.yaml", fix(src), envOf("AK", key))
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Anchor
	if a == nil || a.File != "/etc/anchor/cp.jsonl" || a.Webhook != "https://siem.example/a" || string(a.Secret) != key || a.SecretEnv != "AK" || a.Every != DefaultAnchorEvery {
		t.Fatalf("Anchor = %+v", a)
	}
	if cfg, err := Parse("/etc/warden/w.yaml", fix(minimal), noEnv); err != nil || cfg.Anchor != nil {
		t.Fatalf("without the section: %+v, %v; want no anchor", cfg.Anchor, err)
	}
	if cfg, err := Parse("/etc/warden/w.yaml", fix(minimal+"anchor: {webhook: \"http://127.0.0.1:9/a\", secret_env: AK, every: 30s}\n"), envOf("AK", key)); err != nil || cfg.Anchor.Every != 30*time.Second {
		t.Fatalf("webhook only: %+v, %v", cfg.Anchor, err)
	}
}

func TestParseAnchorErrors(t *testing.T) {
	env := envOf("AK", strings.Repeat("k", MinSecretBytes), "SHORT", "k")
	cases := []struct {
		name  string
		src   string
		wants []want
	}{
		{"nowhere to keep it", minimal + "anchor: {secret_env: AK}\n", []want{{7, 9, "anchor needs a file or a webhook"}}},
		{"no key", minimal + "anchor: {file: /a/cp}\n", []want{{7, 9, "anchor needs secret_env"}}},
		{"short key", minimal + "anchor: {file: /a/cp, secret_env: SHORT}\n", []want{{7, 35, "anchor.secret_env: the value of SHORT is 1 bytes"}}},
		{"unset key", minimal + "anchor: {file: /a/cp, secret_env: NOPE}\n", []want{{7, 35, "NOPE is not set"}}},
		{"inside data_dir", minimal + "anchor: {file: ./warden-data/cp, secret_env: AK}\n", []want{{7, 1, "is inside data_dir"}}},
		{"bad webhook", minimal + "anchor: {webhook: ftp://x, secret_env: AK}\n", []want{{7, 19, "is not an http:// or https:// URL"}}},
		{"bad every", minimal + "anchor: {file: /a/cp, secret_env: AK, every: 0s}\n", []want{{7, 46, "anchor.every must be positive"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { mustFail(t, fix(c.src), env, c.wants...) })
	}
}
