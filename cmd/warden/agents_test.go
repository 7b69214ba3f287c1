package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestAgentsLs(t *testing.T) {
	st, srv := newStandIn(t)
	out, err := runCLI(t, testEnv(), "agents", "ls", "--admin", srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "AGENT") ||
		strings.Join(strings.Fields(lines[1]), " ") != "support-bot active 2" ||
		strings.Join(strings.Fields(lines[2]), " ") != "reporter suspended 0 leaked a key" {
		t.Fatalf("agents ls:\n%s", out)
	}
	if r := st.last(t); r.Method != "GET" || r.Path != "/v1/agents" || r.Auth != "Bearer "+adminToken {
		t.Fatalf("request %+v", r)
	}
	out, err = runCLI(t, testEnv(), "agents", "ls", "--admin", srv.URL, "--json")
	var list []agentStatus
	if err != nil || json.Unmarshal([]byte(out), &list) != nil || len(list) != 2 || !list[1].Suspended || list[0].LiveSessions != 2 {
		t.Fatalf("agents ls --json = %q, %v", out, err)
	}
}

func TestAgentsSuspendRestore(t *testing.T) {
	cases := []struct {
		name  string
		args  []string
		path  string
		body  map[string]any
		want  string
		fails bool
	}{
		{"suspend", []string{"suspend", "support-bot", "--reason", "odd calls", "--by", "ops"}, "/v1/agents/support-bot/suspend",
			map[string]any{"reason": "odd calls", "by": "ops", "kill": false}, "suspended agent support-bot", false},
		{"suspend and kill", []string{"suspend", "support-bot", "--kill", "--by", "ops"}, "/v1/agents/support-bot/suspend",
			map[string]any{"reason": "", "by": "ops", "kill": true}, "suspended agent support-bot and killed 2 sessions", false},
		{"restore", []string{"restore", "reporter"}, "/v1/agents/reporter/restore",
			map[string]any{"by": "tester@" + hostname(t)}, "restored agent reporter", false},
		{"suspend unknown", []string{"suspend", "ghost", "--by", "ops"}, "/v1/agents/ghost/suspend",
			map[string]any{"reason": "", "by": "ops", "kill": false}, `no agent "ghost": admin API POST /v1/agents/ghost/suspend: 404 Not Found: no agent "ghost"`, true},
		{"restore unknown", []string{"restore", "ghost", "--by", "ops"}, "/v1/agents/ghost/restore",
			map[string]any{"by": "ops"}, `no agent "ghost": admin API POST /v1/agents/ghost/restore: 404 Not Found`, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, srv := newStandIn(t)
			out, err := runCLI(t, testEnv(), append([]string{"agents"}, append(c.args, "--admin", srv.URL)...)...)
			if c.fails {
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("error = %v; want %q", err, c.want)
				}
			} else if err != nil || strings.TrimSpace(out) != c.want {
				t.Fatalf("output %q, error %v; want %q", out, err, c.want)
			}
			r := st.last(t)
			if r.Method != "POST" || r.Path != c.path || r.Auth != "Bearer "+adminToken || !jsonEqual(r.Body, c.body) {
				t.Fatalf("request %s %s auth %q body %v; want POST %s body %v", r.Method, r.Path, r.Auth, r.Body, c.path, c.body)
			}
		})
	}
	// The state changed on the API's side: the list shows it.
	st, srv := newStandIn(t)
	if _, err := runCLI(t, testEnv(), "agents", "restore", "reporter", "--admin", srv.URL); err != nil {
		t.Fatal(err)
	}
	if st.agents[1].Suspended {
		t.Fatal("reporter is still suspended after restore")
	}
}
