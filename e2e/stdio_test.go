package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/warden-dev/warden/internal/demo"
	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/store"
)

// TestStdioMode runs `warden stdio` as desktop clients do (launched as a
// command, identity from --agent) with mcp-go's stdio client: the tools
// pass through, calls are recorded under that agent, and the session is
// ended on record when the client closes stdin.
func TestStdioMode(t *testing.T) {
	bin := buildWarden(t)
	up := serveUpstream(t, demo.NewUpstream().Server())
	dir := t.TempDir()
	cfg := filepath.Join(dir, "warden.yaml")
	yaml := fmt.Sprintf(`listen: 127.0.0.1:0
data_dir: %s
log: {level: warn, format: json}
upstreams:
  - name: desk
    http: {url: %q}
agents:
  - name: desktop
    token_sha256: %s
    tools: ["read_*", "list_*"]
`, filepath.Join(dir, "data"), up, hashToken("unused-over-stdio"))
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := client.NewStdioMCPClient(bin, nil, "stdio", "-c", cfg, "--agent", "desktop")
	if err != nil {
		t.Fatal(err)
	}
	if err := testkit.Start(c, "desktop-client"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	list, err := c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range list.Tools {
		names = append(names, tl.Name)
	}
	if strings.Join(names, ",") != "list_files,read_file" {
		t.Fatalf("tools over stdio = %v, want the agent's two", names)
	}
	if got := resultText(callTool(t, c, "read_file", map[string]any{"path": "policies/refunds.md"})); !strings.Contains(got, "200 EUR") {
		t.Fatalf("read_file over stdio = %q", got)
	}
	if res := callTool(t, c, "issue_refund", map[string]any{"customer_id": "C-1001", "iban": "X", "amount": 1}); !res.IsError {
		t.Fatalf("a hidden tool was callable over stdio: %+v", res)
	}
	if err := c.Close(); err != nil {
		t.Logf("close: %v", err)
	}

	// The process is gone once stdin closes; its history is complete.
	db := filepath.Join(dir, "data", "warden.db")
	var sessions []store.Session
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := store.Open(db, store.WithLockTimeout(200*time.Millisecond))
		if err == nil {
			sessions, err = st.Sessions(context.Background(), store.Filter{Agent: "desktop"})
			if err == nil && len(sessions) == 1 {
				evs, _ := st.Events(context.Background(), sessions[0].ID)
				st.Close()
				var kinds []string
				for _, e := range evs {
					kinds = append(kinds, e.Kind+":"+e.Tool+":"+e.Verdict)
				}
				want := "session_start:: call:read_file:allow result:read_file:allow call:issue_refund:deny session_end::"
				if got := strings.Join(kinds, " "); got != want {
					t.Fatalf("stdio timeline = %s\nwant %s", got, want)
				}
				if sessions[0].State != store.StateEnded || sessions[0].ClientName != "desktop-client" {
					t.Fatalf("stdio session record = %+v", sessions[0])
				}
				return
			}
			st.Close()
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stdio session was not recorded: %v %v", sessions, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
