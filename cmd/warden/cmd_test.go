package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/log"
	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/warden-dev/warden/config"
	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/supervisor"
)

// printed runs f with a cli whose output goes to a buffer, and returns
// what it printed.
func printed(f func(g *cli) error) (string, error) {
	var out bytes.Buffer
	err := f(&cli{LogLevel: "error", out: &out})
	return out.String(), err
}

// TestDemoScenario is the README's first command: the demo must finish,
// with every verdict as its script expects, and exit cleanly.
func TestDemoScenario(t *testing.T) {
	// --data names a directory that does not exist yet: the demo makes it,
	// and says how to remove it.
	dir := filepath.Join(t.TempDir(), "new", "demo")
	out, err := printed((&demoCmd{Data: dir}).Run)
	if err != nil {
		t.Fatalf("demo failed: %v\n%s", err, out)
	}
	for _, want := range []string{"ALLOW", "DENY", "STEP_UP", "approves it once", "no approver decided within 3s", "KILL", "state killed", "warden verify: intact", "rm -r " + dir + "\n"} {
		if !strings.Contains(out, want) {
			t.Fatalf("demo output lacks %q:\n%s", want, out)
		}
	}
}

func TestValidateReportsFileLineAndColumn(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("listen: 127.0.0.1:7800\nupstreams:\n  - name: x\n    stdio: {command: \"\"}\nagents: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := printed((&validateCmd{Config: bad}).Run)
	var ex exitError
	if !errors.As(err, &ex) || ex.code != 2 || !strings.Contains(ex.msg, bad+":4:") {
		t.Fatalf("validate of a broken file = %v, want exit 2 naming %s:4", err, bad)
	}
	out, err := printed((&validateCmd{Config: "../../examples/warden.yaml"}).Run)
	if err != nil || !strings.Contains(out, "valid (3 upstreams, 2 agents, 1 workflows)") {
		t.Fatalf("validate of the example = %v, %q", err, out)
	}
}

func TestValidateRefusesABrokenWorkflow(t *testing.T) {
	dir := t.TempDir()
	wf := filepath.Join(dir, "wf.yaml")
	writeFile(t, wf, "agent: a\nstart: [one]\nsteps:\n  - {name: one, tool: t, next: [missing]}\n")
	cfg := filepath.Join(dir, "warden.yaml")
	writeFile(t, cfg, configText("http://127.0.0.1:1/mcp", dir, "wf.yaml"))
	_, err := printed((&validateCmd{Config: cfg}).Run)
	var ex exitError
	if !errors.As(err, &ex) || ex.code != 2 || !strings.Contains(ex.msg, wf+":4:") || !strings.Contains(ex.msg, "missing") {
		t.Fatalf("validate with a broken workflow = %v, want exit 2 naming %s:4 and the unknown step", err, wf)
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

const testToken = "cmd-test-token"

func configText(upstreamURL, dataDir, workflow string) string {
	sum := sha256.Sum256([]byte(testToken))
	return "listen: 127.0.0.1:0\ndata_dir: " + dataDir + "\nupstreams:\n  - name: desk\n    http: {url: \"" + upstreamURL +
		"\"}\nagents:\n  - name: a\n    token_sha256: " + hex.EncodeToString(sum[:]) + "\n    workflow: " + workflow + "\n"
}

const readWorkflow = `agent: a
start: [read]
steps:
  - name: read
    tool: read_file
    guard: "%s"
    on_violation: deny
    next: [read]
`

// TestHotReload serves a workflow, changes it on disk, and checks that a
// valid change takes effect in the live session while an invalid one is
// refused and the old policy kept.
func TestHotReload(t *testing.T) {
	upURL, stopUp, err := serveDemoUpstream()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stopUp)
	dir := t.TempDir()
	wf := filepath.Join(dir, "wf.yaml")
	writeFile(t, wf, strings.Replace(readWorkflow, "%s", "args.path startsWith 'policies/'", 1))
	cfgPath := filepath.Join(dir, "warden.yaml")
	writeFile(t, cfgPath, configText(upURL, dir, "wf.yaml"))
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var logs testkit.SyncBuffer
	logger := log.NewWithOptions(&logs, log.Options{Level: log.InfoLevel})
	ctx, cancel := context.WithCancel(context.Background())
	urlc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, cfg, logger, func(a *app, at endpoints) {
			a.bg.Go(newReloader(a, logger).run)
			urlc <- at.MCP
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	var mcpURL string
	select {
	case mcpURL = <-urlc:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}
	c := dialAgent(t, mcpURL)
	verdict := func(path string) bool {
		req := mcp.CallToolRequest{}
		req.Params.Name = "read_file"
		req.Params.Arguments = map[string]any{"path": path}
		res, err := c.CallTool(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		return !res.IsError
	}
	if !verdict("policies/refunds.md") || verdict("notes/C-1002.txt") {
		t.Fatal("the first workflow is not in force")
	}
	// A valid change: notes become readable too.
	writeFile(t, wf, strings.Replace(readWorkflow, "%s", "args.path startsWith 'policies/' || args.path startsWith 'notes/'", 1))
	testkit.WaitFor(t, 10*time.Second, "the new workflow to take effect", func() bool { return verdict("notes/C-1002.txt") })
	// An invalid change is refused; the last good workflow stays.
	writeFile(t, wf, "agent: a\nsteps: [oops\n")
	testkit.WaitFor(t, 10*time.Second, "the refusal to be logged", func() bool { return strings.Contains(logs.String(), "reload refused") })
	if !verdict("notes/C-1002.txt") || verdict("secrets/api-keys.env") {
		t.Fatal("after a refused reload the previous workflow is not in force")
	}
}

func dialAgent(t *testing.T, url string) *client.Client {
	t.Helper()
	c, err := dialAgentErr(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// dialAgentErr opens an initialised session as the test agent.
func dialAgentErr(url string) (*client.Client, error) {
	return testkit.Dial(url, testToken, "cmd-test", nil)
}

// TestReplayAgentDojo replays the benign AgentDojo traces through the four
// example workflows with the CLI: one JSON object per session, in input
// order, each as json.Encoder writes it, and no call denied or killed.
func TestReplayAgentDojo(t *testing.T) {
	traces := "../../../shared/corpus/agentdojo/tasks.jsonl"
	if _, err := os.Stat(traces); err != nil {
		t.Fatalf("the AgentDojo corpus is missing (%v): it ships in shared/ beside the repository", err)
	}
	total := 0
	for _, agent := range []string{"workspace", "travel", "banking", "slack"} {
		out, err := printed((&replayCmd{Traces: traces, Workflow: "../../examples/agentdojo/" + agent + ".yaml", Agent: agent, JSON: true}).Run)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(strings.NewReader(out))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var s supervisor.ReplayedSession
			if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
				t.Fatalf("%s: bad JSON line %q: %v", agent, sc.Text(), err)
			}
			if s.Agent != agent {
				t.Fatalf("%s: replayed a session of %q", agent, s.Agent)
			}
			// Encoded on the workers, each line is what json.Encoder
			// writes of the session.
			var line bytes.Buffer
			if err := json.NewEncoder(&line).Encode(s); err != nil || line.String() != sc.Text()+"\n" {
				t.Fatalf("%s: line %q, json.Encoder writes %q (%v)", agent, sc.Text(), line.String(), err)
			}
			for _, c := range s.Calls {
				if v := c.Verdict.String(); v == "deny" || v == "kill" {
					t.Errorf("%s %s: %s got %s: %v", agent, s.ID, c.Tool, v, c.Reasons)
				}
			}
			total++
		}
	}
	if total != 97 {
		t.Fatalf("replayed %d sessions, want the corpus's 97", total)
	}
}

// TestUnofferedToolWarning: a workflow step whose tool no upstream offers
// is reported when warden starts (validation cannot know the upstreams).
func TestUnofferedToolWarning(t *testing.T) {
	upURL, stopUp, err := serveDemoUpstream()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stopUp)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "wf.yaml"), `agent: a
start: [read]
anytime: [typo]
steps:
  - {name: read, tool: read_file, next: [read]}
  - {name: typo, tool: raed_file}
`)
	writeFile(t, filepath.Join(dir, "warden.yaml"), configText(upURL, dir, "wf.yaml"))
	cfg, err := config.Load(filepath.Join(dir, "warden.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var logs testkit.SyncBuffer
	logger := log.NewWithOptions(&logs, log.Options{Level: log.InfoLevel})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, logger, func(*app, endpoints) { cancel() }) }()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := logs.String()
	if !strings.Contains(got, `step "typo": no configured upstream offers a tool matching "raed_file"`) {
		t.Fatalf("no warning about the unoffered tool:\n%s", got)
	}
	if strings.Contains(got, `step "read"`) {
		t.Fatalf("an offered tool was warned about:\n%s", got)
	}
}
