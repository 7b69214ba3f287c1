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
