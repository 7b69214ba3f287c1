package e2e

import (
	"context"
	"os/exec"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"

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
