package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/warden-dev/warden/config"
	"github.com/warden-dev/warden/supervisor"
)

// TestNeedsRestart lists what a reload cannot apply, and only that: what
// it applies (agents, tokens, throttles, upstreams) is never listed.
func TestNeedsRestart(t *testing.T) {
	const (
		hash = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
		top  = "listen: 127.0.0.1:0\ndata_dir: /tmp/d\nadmin: {listen: 127.0.0.1:0, token_sha256: " + hash + "}\n"
		base = "%supstreams:\n  - name: desk\n    http: {url: \"http://127.0.0.1:1/mcp\"%s}%s\nagents:\n  - name: a\n    token_sha256: " + hash + "%s\n"
	)
	parse := func(t *testing.T, top, http, up, agent string) *config.Config {
		t.Helper()
		env := func(k string) string {
			if k == "PG" {
				return "postgres://127.0.0.1/w"
			}
			return ""
		}
		cfg, err := config.Parse("warden.yaml", fmt.Appendf(nil, base, top, http, up, agent), env)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	cases := []struct {
		name                 string
		top, http, up, agent string
		want                 []string
	}{
		{name: "nothing", top: top},
		{name: "listen and data_dir", top: "listen: 127.0.0.1:9\ndata_dir: /tmp/e\nadmin: {listen: 127.0.0.1:0, token_sha256: " + hash + "}\n", want: []string{"data_dir", "listen"}},
		{name: "admin listen", top: "listen: 127.0.0.1:0\ndata_dir: /tmp/d\nadmin: {listen: 127.0.0.1:9, token_sha256: " + hash + "}\n", want: []string{"admin (listen)", "approvals"}}, // the decision links point at the admin listener,
		{name: "log", top: top + "log: {level: debug}\n", want: []string{"log"}},
		{name: "tracing", top: top + "tracing: {otlp_endpoint: \"http://127.0.0.1:4318\"}\n", want: []string{"tracing"}},
		{name: "store", top: top + "store: {postgres: {url_env: PG}}\n", want: []string{"store"}},
		{name: "export", top: top + "export: {ocsf: {file: /tmp/ocsf.jsonl}}\n", want: []string{"export"}},
		{name: "validate_args", top: top, up: "\n    validate_args: keys_only", want: []string{"upstreams (validate_args)"}},
		{name: "retention", top: top + "retention: {max_age: 1h, export_dir: /tmp/x}\n", agent: "\n    retention: {max_age: 2h}", want: []string{"agents' retention", "retention"}},
		{name: "reloaded: admin token, throttle, url, agent token", top: "listen: 127.0.0.1:0\ndata_dir: /tmp/d\nadmin: {listen: 127.0.0.1:0, token_sha256: " + strings.Repeat("ab", 32) + "}\nthrottle: {session: {per_minute: 1, burst: 1}}\n",
			http: ", headers: {X: y}", agent: "\n    throttle: {per_minute: 2, burst: 2}"},
	}
	running := parse(t, top, "", "", "")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := needsRestart(running, parse(t, c.top, c.http, c.up, c.agent))
			if !slices.Equal(got, c.want) {
				t.Errorf("needsRestart = %q, want %q", got, c.want)
			}
		})
	}
}

// TestKeepJudges keeps the running judge of an agent whose judge section
// a reload left alone (its per-minute budget and cache go on), and builds
// a new one where the section changed.
func TestKeepJudges(t *testing.T) {
	load := func(modelB string) (*config.Config, []supervisor.Agent) {
		t.Helper()
		text := "listen: 127.0.0.1:0\ndata_dir: /tmp/d\nupstreams:\n  - name: desk\n    http: {url: \"http://127.0.0.1:1/mcp\"}\nagents:\n"
		for i, m := range []string{"m", modelB} {
			text += fmt.Sprintf("  - name: %c\n    token_sha256: %s\n    judge: {endpoint: \"http://127.0.0.1:9/v1\", model: %s}\n", 'a'+i, strings.Repeat(string(rune('1'+i)), 64), m)
		}
		cfg, err := config.Parse("warden.yaml", []byte(text), func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		agents, err := agentsOf(cfg, func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		return cfg, agents
	}
	prevCfg, prev := load("m")
	next, agents := load("m2")
	keepJudges(prevCfg, prev, next, agents)
	if agents[0].Judge != prev[0].Judge {
		t.Error("agent a's unchanged judge was replaced")
	}
	if agents[1].Judge == prev[1].Judge || agents[1].Judge == nil {
		t.Error("agent b's changed judge was kept")
	}
}
