package config

import (
	"fmt"
	"strings"
	"testing"
)

func TestParseStore(t *testing.T) {
	const url = "postgres://warden:s3cret@127.0.0.1:5432/warden"
	cfg, err := Parse("/etc/warden/w.yaml", fix(minimal+"store: {postgres: {url_env: PG}}\n"), envOf("PG", url))
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Store.Postgres
	if p == nil || p.URLEnv != "PG" || string(p.URL) != url {
		t.Fatalf("Store.Postgres = %+v", p)
	}
	if s := fmt.Sprintf("%v %+v", p.URL, cfg.Store); strings.Contains(s, "s3cret") {
		t.Errorf("the URL prints: %s", s)
	}
	if cfg, err := Parse("/etc/warden/w.yaml", fix(minimal+"store: {postgres: {url_env: PG, replica: w-1}}\n"), envOf("PG", url)); err != nil || cfg.Store.Postgres.Replica != "w-1" {
		t.Fatalf("a replica: %+v, %v", cfg.Store.Postgres, err)
	}
	key := strings.Repeat("k", MinSecretBytes)
	if cfg, err := Parse("/etc/warden/w.yaml", fix(minimal+"store: {postgres: {url_env: PG}}\nanchor: {file: /a/cp, secret_env: AK}\n"), envOf("PG", url, "AK", key)); err != nil || cfg.Anchor == nil || cfg.Store.Postgres == nil {
		t.Fatalf("an anchor with PostgreSQL: %+v, %v", cfg, err)
	}
	if cfg, err := Parse("/etc/warden/w.yaml", fix(minimal), noEnv); err != nil || cfg.Store.Postgres != nil {
		t.Fatalf("without the section: %+v, %v; want bbolt", cfg.Store, err)
	}
	if cfg, err := Parse("/etc/warden/w.yaml", fix(minimal+"store: {postgres: {url_env: PG}}\n"), envOf("PG", "host=/tmp dbname=w")); err != nil || cfg.Store.Postgres == nil {
		t.Fatalf("a key=value connection string: %+v, %v", cfg.Store, err)
	}
}

func TestParseStoreErrors(t *testing.T) {
	env := envOf("PG", "postgres://127.0.0.1/w", "MY", "mysql://u:secretpw@h/db", "AK", strings.Repeat("k", MinSecretBytes))
	cases := []struct {
		name  string
		src   string
		wants []want
	}{
		{"unset", minimal + "store: {postgres: {url_env: NOPE}}\n", []want{{7, 29, "store.postgres.url_env: environment variable NOPE is not set"}}},
		{"not a name", minimal + "store: {postgres: {url_env: \"a b\"}}\n", []want{{7, 29, "is not an environment variable name"}}},
		{"other scheme", minimal + "store: {postgres: {url_env: MY}}\n", []want{{7, 29, "is a mysql:// URL; want postgres://"}}},
		{"no url_env", minimal + "store: {postgres: {}}\n", []want{{7, 19, "store.postgres needs url_env"}}},
		{"empty postgres", minimal + "store: {postgres: }\n", []want{{7, 9, "store.postgres needs url_env"}}},
		{"empty replica", minimal + "store: {postgres: {url_env: PG, replica: \"\"}}\n", []want{{7, 42, "store.postgres.replica must not be empty"}}},
		{"replica with a space", minimal + "store: {postgres: {url_env: PG, replica: \"a b\"}}\n", []want{{7, 42, "has a space"}}},
		{"unknown key", minimal + "store: {mysql: {}}\n", []want{{7, 9, "mysql"}}},
		{"with retention", minimal + "store: {postgres: {url_env: PG}}\nretention: {max_age: 720h, export_dir: /a/x}\n", []want{{8, 1, "retention is not available with store.postgres yet"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mustFail(t, fix(c.src), env, c.wants...)
			if _, err := Parse("/etc/warden/w.yaml", fix(c.src), env); err != nil && strings.Contains(err.Error(), "secretpw") {
				t.Errorf("the error shows the URL: %v", err)
			}
		})
	}
}

func TestParseAdvertise(t *testing.T) {
	env := envOf("PG", "postgres://127.0.0.1/w")
	tests := []struct {
		name, src, want string
	}{
		{"given", "store: {postgres: {url_env: PG, replica: r1, advertise: \"http://10.0.0.5:7800/\"}}\n", "http://10.0.0.5:7800"},
		{"loopback listen, none given", "store: {postgres: {url_env: PG, replica: r1}}\n", ""},
		{"any listen, given", "listen: 0.0.0.0:7800\nstore: {postgres: {url_env: PG, replica: r1, advertise: \"https://w1.internal:7800\"}}\n", "https://w1.internal:7800"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse("/etc/warden/w.yaml", fix(minimal+tt.src), env)
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Store.Postgres.Advertise; got != tt.want {
				t.Fatalf("Advertise = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseAdvertiseErrors(t *testing.T) {
	env := envOf("PG", "postgres://127.0.0.1/w")
	tests := []struct {
		name, src, want string
	}{
		{"not a URL", "store: {postgres: {url_env: PG, replica: r1, advertise: \"10.0.0.5:7800\"}}\n", "want the URL other replicas reach this one at"},
		{"other scheme", "store: {postgres: {url_env: PG, replica: r1, advertise: \"ftp://h:1\"}}\n", "want the URL other replicas reach this one at"},
		{"with a path", "store: {postgres: {url_env: PG, replica: r1, advertise: \"http://h:1/mcp\"}}\n", "give scheme, host and port only"},
		{"unspecified host", "store: {postgres: {url_env: PG, replica: r1, advertise: \"http://0.0.0.0:7800\"}}\n", "which another replica cannot connect to"},
		{"empty", "store: {postgres: {url_env: PG, replica: r1, advertise: \"\"}}\n", "store.postgres.advertise must not be empty"},
		{"without replica", "store: {postgres: {url_env: PG, advertise: \"http://h:1\"}}\n", "advertise is for replicas"},
		{"needed", "listen: 0.0.0.0:7800\nstore: {postgres: {url_env: PG, replica: r1}}\n", "store.postgres.advertise is needed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("/etc/warden/w.yaml", fix(minimal+tt.src), env)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse: %v; want an error with %q", err, tt.want)
			}
		})
	}
}
