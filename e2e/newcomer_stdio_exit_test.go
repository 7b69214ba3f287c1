//go:build linux

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/warden-dev/warden/internal/testkit"
)

// TestNewcomerStdioExitEndsChildren runs `warden stdio` in front of
// server-everything started through npx, as the README's config does, with
// mcp-go's stdio client. When the client closes, warden must exit 0 and
// every process it started (npx, the shell, the node server) must be gone.
// mcp-go's client closes warden's stderr before it waits for the exit (a
// log line then met a broken pipe and SIGPIPE killed warden halfway
// through its shutdown); with a stderr the test keeps open, every line of
// the exit is seen, and none may be a warning or an error.
func TestNewcomerStdioExitEndsChildren(t *testing.T) {
	bin := buildWarden(t)
	nodeModules(t) // npx resolves the package from the local install, offline
	for _, keepStderr := range []bool{false, true} {
		t.Run(fmt.Sprintf("keep_stderr=%v", keepStderr), func(t *testing.T) {
			stdioExit(t, bin, keepStderr)
		})
	}
}

// stdioExit is one run of TestNewcomerStdioExitEndsChildren; keepStderr
// gives warden a stderr that the client does not close.
func stdioExit(t *testing.T, bin string, keepStderr bool) {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "warden.yaml")
	yaml := fmt.Sprintf(`listen: 127.0.0.1:0
data_dir: %s
log: {format: json}
upstreams:
  - name: everything
    stdio: {command: npx, args: [--no-install, "@modelcontextprotocol/server-everything"], dir: %q}
agents:
  - name: desktop
    token_sha256: %s
`, filepath.Join(dir, "data"), e2eDir(t), hashToken("unused-over-stdio"))
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	var (
		c        *client.Client
		cmd      *exec.Cmd
		errLines fmt.Stringer
	)
	if keepStderr {
		l := launchStdio(t, bin, cfg, "desktop", os.Environ())
		c, cmd, errLines = l.c, l.cmd, l.stderr
	} else {
		var err error
		c, err = client.NewStdioMCPClientWithOptions(bin, nil, []string{"stdio", "-c", cfg, "--agent", "desktop"},
			transport.WithCommandFunc(func(ctx context.Context, command string, env, args []string) (*exec.Cmd, error) {
				cmd = exec.CommandContext(ctx, command, args...)
				cmd.Env = append(os.Environ(), env...)
				return cmd, nil
			}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		stderr, _ := client.GetStderr(c)
		errLines = collect(stderr)
	}
	if err := testkit.Start(c, "desktop-client"); err != nil {
		t.Fatalf("initialize: %v\nstderr:\n%s", err, errLines)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	list, err := c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil || len(list.Tools) == 0 {
		t.Fatalf("tools/list: %v (%d tools)\nstderr:\n%s", err, len(list.Tools), errLines)
	}
	if got := resultText(callTool(t, c, "echo", map[string]any{"message": "hi"})); !strings.Contains(got, "hi") {
		t.Fatalf("echo = %q", got)
	}
	tree := descendants(t, cmd.Process.Pid)
	if !slicesHasCmdline(tree, "server-everything") {
		t.Fatalf("no server-everything process under warden (pid %d): %v", cmd.Process.Pid, tree)
	}

	if err := c.Close(); err != nil {
		t.Errorf("the client's close: %v", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for pid, line := range tree {
		for !processGone(pid) && !zombie(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("process %d (%s) outlived warden's stdio session", pid, line)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if st := cmd.ProcessState; st == nil || !st.Success() {
		t.Errorf("warden stdio did not exit 0: %v\nstderr:\n%s", st, errLines)
	}
	alarming := regexp.MustCompile(`"level":"(warn|error)"|(?i)\b(panic|fatal)\b`)
	for _, l := range strings.Split(errLines.String(), "\n") {
		if alarming.MatchString(l) {
			t.Errorf("stderr of a normal stdio exit has an alarming line: %s", l)
		}
	}
}

// slicesHasCmdline says whether a process of tree runs something named s.
func slicesHasCmdline(tree map[int]string, s string) bool {
	for _, l := range tree {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}
