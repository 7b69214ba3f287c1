package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/warden-dev/warden/internal/testkit"
)

// TestNewcomerStdioNeedsOnlyWhatItUses launches `warden stdio` the way
// desktop clients do, with an environment that holds none of the config's
// token variables. stdio authenticates nobody by token, so it must serve
// anyway (saying on stderr that the admin API is off for want of its
// variable); a variable it does use (an upstream's header) must stop it
// with a message on stderr that names the variable.
func TestNewcomerStdioNeedsOnlyWhatItUses(t *testing.T) {
	bin := buildWarden(t)
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	cases := []struct {
		name    string
		header  string // the upstream's Authorization header
		serves  bool
		stderrs []string // what stderr must say
	}{
		{name: "token variables unset", header: "Bearer fixed", serves: true,
			stderrs: []string{"admin API not served", "NEWCOMER_ADMIN_TOKEN"}},
		{name: "upstream variable unset", header: "Bearer ${NEWCOMER_DESK_KEY}",
			stderrs: []string{"NEWCOMER_DESK_KEY", "is not set", `"env" of warden's entry`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := deskConfig(t, fmt.Sprintf(", headers: {Authorization: %q}", tc.header), `admin: {listen: "127.0.0.1:0", token_env: NEWCOMER_ADMIN_TOKEN}
agents:
  - name: desktop
    token_env: NEWCOMER_DESKTOP_TOKEN
    tools: ["read_*", "list_*"]
  - name: other
    token_env: NEWCOMER_OTHER_TOKEN
    judge: {endpoint: "http://127.0.0.1:9/v1", model: m, key_env: NEWCOMER_JUDGE_KEY}
`)
			l := launchStdio(t, bin, cfg, "desktop", env)
			err := testkit.Start(l.c, "desktop-client")
			if tc.serves {
				if err != nil {
					t.Fatalf("initialize: %v\nstderr:\n%s", err, l.stderr)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				list, err := l.c.ListTools(ctx, mcp.ListToolsRequest{})
				if err != nil || len(list.Tools) != 2 {
					t.Fatalf("tools/list: %v %+v\nstderr:\n%s", err, list, l.stderr)
				}
				if got := resultText(callTool(t, l.c, "read_file", map[string]any{"path": "policies/refunds.md"})); !strings.Contains(got, "200 EUR") {
					t.Fatalf("read_file = %q", got)
				}
				if err := l.c.Close(); err != nil {
					t.Errorf("close: %v\nstderr:\n%s", err, l.stderr)
				}
			} else {
				if err == nil {
					t.Fatalf("warden stdio served although an upstream's variable is unset\nstderr:\n%s", l.stderr)
				}
				_ = l.c.Close()
				if l.cmd.ProcessState == nil || l.cmd.ProcessState.Success() {
					t.Errorf("warden stdio exit: %v, want a failure", l.cmd.ProcessState)
				}
			}
			for _, want := range tc.stderrs {
				if !strings.Contains(l.stderr.String(), want) {
					t.Errorf("stderr does not say %q:\n%s", want, l.stderr)
				}
			}
		})
	}
}
