package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// hostname is this machine's name, as the default --by uses it.
func hostname(t *testing.T) string {
	t.Helper()
	h, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestKill(t *testing.T) {
	cases := []struct {
		name  string
		args  []string
		path  string // "" when no request may be sent
		body  map[string]any
		want  string
		fails bool
	}{
		{"a session", []string{"s-1", "--reason", "exfiltration", "--by", "ops"}, "/v1/sessions/s-1/kill",
			map[string]any{"reason": "exfiltration", "by": "ops"}, "killed session s-1", false},
		{"default by", []string{"s-1"}, "/v1/sessions/s-1/kill",
			map[string]any{"reason": "", "by": "tester@" + hostname(t)}, "killed session s-1", false},
		{"an agent", []string{"--agent", "support-bot", "--reason", "compromised", "--by", "ops"}, "/v1/agents/support-bot/kill",
			map[string]any{"reason": "compromised", "by": "ops"}, "killed 2 sessions of agent support-bot", false},
		{"an agent with one live session", []string{"--agent", "reporter", "--by", "ops"}, "/v1/agents/reporter/kill",
			map[string]any{"reason": "", "by": "ops"}, "killed 1 session of agent reporter", false},
		{"unknown session", []string{"s-9", "--by", "ops"}, "/v1/sessions/s-9/kill", map[string]any{"reason": "", "by": "ops"},
			`no session "s-9": admin API POST /v1/sessions/s-9/kill: 404 Not Found: no live session "s-9"`, true},
		{"unknown agent", []string{"--agent", "ghost", "--by", "ops"}, "/v1/agents/ghost/kill", map[string]any{"reason": "", "by": "ops"},
			`no agent "ghost": admin API POST /v1/agents/ghost/kill: 404 Not Found: no agent "ghost"`, true},
		{"both", []string{"s-1", "--agent", "support-bot"}, "", nil, "name one session (warden kill SESSION) or one agent", true},
		{"neither", nil, "", nil, "name one session (warden kill SESSION) or one agent", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, srv := newStandIn(t)
			out, err := runCLI(t, testEnv(), append([]string{"kill", "--admin", srv.URL}, c.args...)...)
			if c.fails {
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("error = %v; want %q", err, c.want)
				}
			} else if err != nil || strings.TrimSpace(out) != c.want {
				t.Fatalf("output %q, error %v; want %q", out, err, c.want)
			}
			st.mu.Lock()
			n := len(st.reqs)
			st.mu.Unlock()
			if c.path == "" {
				if n != 0 {
					t.Fatalf("%d requests sent for a bad command line", n)
				}
				return
			}
			r := st.lastLookup(t)
			if r.Method != "POST" || r.Path != c.path || r.Auth != "Bearer "+adminToken || !jsonEqual(r.Body, c.body) {
				t.Fatalf("request %s %s auth %q body %v; want POST %s body %v", r.Method, r.Path, r.Auth, r.Body, c.path, c.body)
			}
		})
	}
}

func TestKillJSON(t *testing.T) {
	_, srv := newStandIn(t)
	out, err := runCLI(t, testEnv(), "kill", "--admin", srv.URL, "--agent", "support-bot", "--json")
	var got struct{ Killed int }
	if err != nil || json.Unmarshal([]byte(out), &got) != nil || got.Killed != 2 {
		t.Fatalf("kill --agent --json = %q, %v", out, err)
	}
}
