package e2e

import (
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/warden-dev/warden/internal/testkit"
)

// TestReloadKeepsStdioBridges: a reload of serve's configuration keeps
// the local tokens that let a `warden stdio` on the same config act
// through serve (they are not in the config), so a bridge started after
// the reload still works.
func TestReloadKeepsStdioBridges(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGHUP reloads on unix only")
	}
	bin := buildWarden(t)
	cfg, _ := shareConfig(t)
	serve := startServe(t, bin, cfg)
	if err := serve.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(serve.stderr.String(), `"msg":"configuration reloaded"`) {
		if time.Now().After(deadline) {
			t.Fatalf("serve did not reload:\n%s", serve.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	l := launchStdio(t, bin, cfg, "desktop", []string{"PATH=" + os.Getenv("PATH")})
	if err := testkit.Start(l.c, "desktop-client"); err != nil {
		t.Fatalf("initialize through serve after a reload: %v\nstdio stderr:\n%s\nserve stderr:\n%s", err, l.stderr, serve.stderr)
	}
	if got := resultText(callTool(t, l.c, "read_file", map[string]any{"path": "policies/refunds.md"})); !strings.Contains(got, "200 EUR") {
		t.Fatalf("read_file = %q\nstdio stderr:\n%s", got, l.stderr)
	}
	if !strings.Contains(l.stderr.String(), "acting through the running warden serve") {
		t.Errorf("stdio did not act through serve:\n%s", l.stderr)
	}
}
