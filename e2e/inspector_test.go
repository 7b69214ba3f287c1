package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
	"github.com/warden-dev/warden/tools"
)

const inspectorToken = "inspector-token-0123456789"

// inspectorRun is one run of the MCP Inspector CLI.
type inspectorRun struct {
	stdout, stderr string
	err            error // non-nil when the CLI exited non-zero
}

// runInspector runs the real MCP Inspector 2.x CLI, under Node 22, against
// url over Streamable HTTP with the given bearer token.
func runInspector(t *testing.T, url, token string, args ...string) inspectorRun {
	t.Helper()
	launcher := npmScript(t, "@modelcontextprotocol/inspector", "clients/launcher/build/index.js")
	argv := append([]string{launcher, "--cli", url, "--transport", "http",
		"--header", "Authorization: Bearer " + token,
		// Non-interactive: a 401 must fail the run, not start an OAuth login.
		"--stored-auth-only"}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node22(t), argv...)
	// The CLI keeps a catalog in $HOME unless told otherwise; keep it here.
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+home, "MCP_CATALOG_PATH="+filepath.Join(home, "mcp.json"), "NO_COLOR=1")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("inspector %v did not finish in time; stderr: %s", args, errOut.String())
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("cannot run the inspector: %v", err)
	}
	return inspectorRun{stdout: out.String(), stderr: errOut.String(), err: err}
}

// TestInspectorCLI drives warden, fronting server-everything over stdio,
// with the MCP Inspector's CLI: a client warden's authors did not write.
func TestInspectorCLI(t *testing.T) {
	script := npmScript(t, "@modelcontextprotocol/server-everything", "dist/index.js")
	w := startWarden(t,
		[]tools.Spec{{Name: "everything", Command: node22(t), Args: []string{script, "stdio"}}},
		[]supervisor.Agent{{Name: "inspector", TokenSHA256: hashToken(inspectorToken)}})

	t.Run("tools/list", func(t *testing.T) {
		run := runInspector(t, w.URL, inspectorToken, "--method", "tools/list")
		if run.err != nil {
			t.Fatalf("tools/list failed: %v\nstdout: %s\nstderr: %s", run.err, run.stdout, run.stderr)
		}
		var list struct {
			Tools []struct {
				Name string `json:"name"`
			} `json:"tools"`
		}
		if err := json.Unmarshal([]byte(run.stdout), &list); err != nil {
			t.Fatalf("tools/list output is not the JSON expected: %v\n%s", err, run.stdout)
		}
		var names []string
		for _, tl := range list.Tools {
			names = append(names, tl.Name)
		}
		for _, want := range []string{"echo", "get-sum", "trigger-long-running-operation"} {
			if !slices.Contains(names, want) {
				t.Fatalf("tool %q missing from the inspector's list: %v", want, names)
			}
		}
	})

	t.Run("tools/call", func(t *testing.T) {
		const msg = "hello from the inspector"
		run := runInspector(t, w.URL, inspectorToken, "--method", "tools/call", "--tool-name", "echo", "--tool-arg", "message="+msg)
		if run.err != nil {
			t.Fatalf("tools/call failed: %v\nstdout: %s\nstderr: %s", run.err, run.stdout, run.stderr)
		}
		var res struct {
			Content []struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"content"`
			IsError bool `json:"isError"`
		}
		if err := json.Unmarshal([]byte(run.stdout), &res); err != nil {
			t.Fatalf("tools/call output is not the JSON expected: %v\n%s", err, run.stdout)
		}
		if res.IsError || len(res.Content) != 1 || res.Content[0].Text != "Echo: "+msg {
			t.Fatalf("echo through warden = %+v", res)
		}

		// The call is on record in the inspector's session, with its result.
		ctx := context.Background()
		sessions, err := w.Store.Sessions(ctx, store.Filter{Agent: "inspector"})
		if err != nil {
			t.Fatal(err)
		}
		var calls, results int
		for _, s := range sessions {
			evs, err := w.Store.Events(ctx, s.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range evs {
				switch {
				case e.Kind == store.KindCall && e.Tool == "echo" && e.Verdict == "allow" && strings.Contains(string(e.Args), msg):
					calls++
				case e.Kind == store.KindResult && e.Tool == "echo" && e.OK:
					results++
				}
			}
		}
		if calls != 1 || results != 1 {
			t.Fatalf("history of the inspector's %d sessions has %d echo calls and %d results, want 1 and 1", len(sessions), calls, results)
		}
		rep, err := w.Store.Verify(ctx)
		if err != nil || len(rep.Broken) != 0 {
			t.Fatalf("verify = %+v, %v", rep, err)
		}
	})

	t.Run("wrong token", func(t *testing.T) {
		before, err := w.Store.Sessions(context.Background(), store.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		run := runInspector(t, w.URL, "not-the-token", "--method", "tools/list")
		if run.err == nil {
			t.Fatalf("the inspector succeeded with a wrong token:\n%s", run.stdout)
		}
		all := run.stdout + run.stderr
		if !strings.Contains(all, "401") && !strings.Contains(strings.ToLower(all), "unauthorized") {
			t.Fatalf("the inspector's failure does not mention 401 or Unauthorized:\nstdout: %s\nstderr: %s", run.stdout, run.stderr)
		}
		after, err := w.Store.Sessions(context.Background(), store.Filter{})
		if err != nil || len(after) != len(before) {
			t.Fatalf("a wrong token changed the sessions: %d before, %d after (%v)", len(before), len(after), err)
		}
	})
}
