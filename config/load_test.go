package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warden-dev/warden"
)

// examplePath is the documented reference config.
const examplePath = "../examples/warden.yaml"

func TestExampleLoads(t *testing.T) {
	cfg, err := Load(examplePath)
	if err != nil {
		t.Fatalf("example does not load:\n%v", err)
	}
	dir, err := filepath.Abs("../examples")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Upstreams) != 3 || len(cfg.Agents) != 2 || cfg.Admin == nil {
		t.Fatalf("example has %d upstreams, %d agents, admin %v", len(cfg.Upstreams), len(cfg.Agents), cfg.Admin)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"data_dir", cfg.DataDir, filepath.Join(dir, "warden-data")},
		{"stdio dir", cfg.Upstreams[0].Stdio.Dir, dir},
		{"workflow", cfg.Agents[0].Workflow, filepath.Join(dir, "workflows/support.yaml")},
		{"upstream call_timeout override", cfg.Upstreams[0].CallTimeout, 30 * time.Second},
		{"upstream call_timeout default", cfg.Upstreams[1].CallTimeout, time.Minute},
		{"http transport", cfg.Upstreams[1].Transport, TransportHTTP},
		{"sse transport", cfg.Upstreams[2].Transport, TransportSSE},
		{"tool_prefix", cfg.Upstreams[1].ToolPrefix, "fs_"},
		{"stdio sessions", cfg.Upstreams[0].Sessions, SessionsPerAgent},
		{"stdio max_sessions", cfg.Upstreams[0].MaxSessions, 16},
		{"stdio session_idle_timeout", cfg.Upstreams[0].SessionIdleTimeout, 30 * time.Minute},
		{"stdio spare_sessions", cfg.Upstreams[0].SpareSessions, 1},
		{"http sessions default", cfg.Upstreams[1].Sessions, SessionsPerSession},
		{"http max_sessions default", cfg.Upstreams[1].MaxSessions, 256},
		{"http spare_sessions default", cfg.Upstreams[1].SpareSessions, 0},
		{"sse sessions default", cfg.Upstreams[2].Sessions, SessionsPerSession},
		{"allowed_hosts", strings.Join(cfg.AllowedHosts, ","), "warden.internal"},
		{"admin token", cfg.Admin.TokenSHA256, HashToken("secret")},
		{"reporter sees all upstreams", strings.Join(cfg.Agents[1].Upstreams, ","), "everything,files,legacy"},
		{"approvals timeout", cfg.Approvals.Timeout, 2 * time.Minute},
		{"public_url", cfg.Approvals.PublicURL, "http://127.0.0.1:7801"},
		{"session throttle", *cfg.Throttle.Session, Rate{PerMinute: 120, Burst: 20}},
		{"agent throttle", *cfg.Throttle.Agent, Rate{PerMinute: 600, Burst: 60}},
		{"max_delay", cfg.Throttle.MaxDelay, 2 * time.Second},
		{"on_change", cfg.Revalidation.OnChange, warden.Flag},
		{"reporter throttle", *cfg.Agents[1].Throttle, Rate{PerMinute: 30, Burst: 5}},
		{"support-bot throttle", cfg.Agents[0].Throttle == nil, true},
		{"retention max_age", cfg.Retention.MaxAge, 720 * time.Hour},
		{"retention export_dir", cfg.Retention.ExportDir, filepath.Join(dir, "warden-data/export")},
		{"reporter retention", *cfg.Agents[1].Retention, AgentRetention{MaxAge: 168 * time.Hour, MaxBytes: 1 << 30}},
		{"reporter digests fs reads", cfg.Agents[1].RecordResults.Digest("fs_read_file"), true},
		{"support-bot records in full", cfg.Agents[0].RecordResults.Digest("fs_read_file"), false},
		{"support-bot resources", strings.Join(cfg.Agents[0].Resources, ","), "kb://files/*"},
		{"support-bot prompts", strings.Join(cfg.Agents[0].Prompts, ","), "summarize_*"},
		{"reporter (tools restricted) gets no resources", cfg.Agents[1].Resources != nil && len(cfg.Agents[1].Resources) == 0, true},
		{"reporter (tools restricted) gets no prompts", cfg.Agents[1].Prompts != nil && len(cfg.Agents[1].Prompts) == 0, true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if a, ok := cfg.AgentByToken("agent"); !ok || a.Name != "support-bot" {
		t.Errorf("AgentByToken(agent) = %v, %v; want support-bot", a, ok)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load of a missing file = %v; want fs.ErrNotExist", err)
	}
}

func TestLoadReportsFileAndResolvesPaths(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "warden.yaml")
	flow := filepath.Join(t.TempDir(), "flow.yaml") // absolute, elsewhere
	if err := os.WriteFile(flow, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(minimal, "{command: x}", "{command: x, dir: work}", 1) + "    workflow: " + flow + "\ndata_dir: data\n"
	if err := os.WriteFile(path, fix(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != filepath.Join(dir, "data") || cfg.Upstreams[0].Stdio.Dir != filepath.Join(dir, "work") || cfg.Agents[0].Workflow != flow {
		t.Fatalf("paths not resolved against %s: data_dir=%s dir=%s workflow=%s", dir, cfg.DataDir, cfg.Upstreams[0].Stdio.Dir, cfg.Agents[0].Workflow)
	}
	// A broken file names itself in each problem.
	if err := os.WriteFile(path, []byte("listen: nope\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(path)
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 3 || !strings.Contains(err.Error(), path+":1:9: listen") {
		t.Fatalf("Load = %v; want 3 problems, one at %s:1:9", err, path)
	}
	for _, e := range errs {
		if e.File != path {
			t.Errorf("problem %v names file %q, want %q", e, e.File, path)
		}
	}
}

func TestParseAnchorsAndAliases(t *testing.T) {
	src := `upstreams:
  - name: a
    stdio: &srv {command: server, args: [--fast]}
  - name: b
    stdio: *srv
agents:
  - name: bot
    token_sha256: $H
    tools: &ro [get*, list*]
  - name: bot2
    token_sha256: ` + HashToken("other") + `
    tools: *ro
`
	cfg, err := Parse("w.yaml", fix(src), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Upstreams[1].Stdio.Command != "server" || strings.Join(cfg.Agents[1].Tools, ",") != "get*,list*" {
		t.Fatalf("aliases not resolved: %v", cfg)
	}
}

func BenchmarkParseExample(b *testing.B) {
	data, err := os.ReadFile(examplePath)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse(examplePath, data, noEnv); err != nil {
			b.Fatal(err)
		}
	}
}
