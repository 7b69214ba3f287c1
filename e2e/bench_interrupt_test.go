//go:build unix

package e2e

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/warden-dev/warden/internal/testkit"
)

// TestBenchPostgresInterruptRemovesWhatItStarted: Ctrl-C (SIGINT) in the
// middle of `warden bench --store postgres` stops the throwaway
// PostgreSQL cluster and HAProxy it started and removes their folders,
// and the command says it was interrupted.
func TestBenchPostgresInterruptRemovesWhatItStarted(t *testing.T) {
	if _, err := exec.LookPath("haproxy"); err != nil {
		t.Skip("HAProxy is not installed (apt-get install haproxy)")
	}
	bin := buildWarden(t)
	// The folders go to a temporary directory of the test's own. As root
	// the cluster runs as the postgres user, which must reach it.
	tmp := t.TempDir()
	for _, d := range []string{filepath.Dir(tmp), tmp} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin, "bench", "--store", "postgres", "--sessions", "1", "--duration", "10m")
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	if first := testkit.Recv(t, lines, 2*time.Minute, "the bench's first line"); strings.Contains(first, "not installed") {
		t.Skip(first)
	}
	started := func(pattern string) []string {
		m, _ := filepath.Glob(filepath.Join(tmp, pattern))
		return m
	}
	testkit.WaitFor(t, time.Minute, "HAProxy's folder", func() bool { return len(started("warden-haproxy-*")) == 1 })
	pgDirs := started("warden-pg-*")
	if len(pgDirs) != 1 {
		t.Fatalf("cluster folders %v, want one", pgDirs)
	}
	pidText, err := os.ReadFile(filepath.Join(pgDirs[0], "data", "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.SplitN(string(pidText), "\n", 2)[0])
	if err != nil {
		t.Fatal(err)
	}

	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	var said []string
	for l := range lines {
		said = append(said, l)
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || !strings.Contains(strings.Join(said, "\n"), "bench: interrupted") {
		t.Fatalf("bench exited with %v saying %q; want a failure saying it was interrupted", err, said)
	}
	if left := append(started("warden-pg-*"), started("warden-haproxy-*")...); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
	// pg_ctl's wait ends when the postmaster removes its pid file, a
	// moment before it exits.
	testkit.WaitFor(t, 30*time.Second, "the cluster's postmaster to exit", func() bool {
		return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
	})
}
