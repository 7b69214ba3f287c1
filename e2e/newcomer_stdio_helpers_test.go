package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"

	"github.com/warden-dev/warden/internal/demo"
	"github.com/warden-dev/warden/internal/testkit"
)

// launched is a `warden stdio` process run by mcp-go's stdio client, as a
// desktop client launches it.
type launched struct {
	c      *client.Client
	cmd    *exec.Cmd
	stderr *testkit.SyncBuffer // all of it, the exit included
}

// launchStdio starts `warden stdio -c cfg --agent agent` with exactly env
// as its environment (clients that launch commands do not pass theirs)
// and a stderr that the client does not close. The client is not
// initialized yet.
func launchStdio(t *testing.T, bin, cfg, agent string, env []string) *launched {
	t.Helper()
	l := &launched{stderr: &testkit.SyncBuffer{}}
	c, err := client.NewStdioMCPClientWithOptions(bin, nil, []string{"stdio", "-c", cfg, "--agent", agent},
		transport.WithCommandFunc(func(ctx context.Context, command string, _, args []string) (*exec.Cmd, error) {
			l.cmd = exec.CommandContext(ctx, command, args...)
			l.cmd.Env = env
			l.cmd.Stderr = l.stderr
			return l.cmd, nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	l.c = c
	t.Cleanup(func() { _ = c.Close() })
	return l
}

// deskConfig writes, in a new folder, a config with JSON logs and its data
// beside it, serving the demo's desk upstream over HTTP; desk adds fields
// to the upstream's http mapping (", headers: {…}"), rest is the YAML of
// the other sections (agents, admin). It returns the config's path.
func deskConfig(t *testing.T, desk, rest string) string {
	t.Helper()
	up := serveUpstream(t, demo.NewUpstream().Server())
	dir := t.TempDir()
	cfg := filepath.Join(dir, "warden.yaml")
	yaml := fmt.Sprintf("listen: 127.0.0.1:0\ndata_dir: %s\nlog: {level: info, format: json}\nupstreams:\n  - name: desk\n    http: {url: %q%s}\n%s",
		filepath.Join(dir, "data"), up, desk, rest)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}
