package testkit

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// HAProxy starts HAProxy (Debian's package) in front of backends
// (host:port on loopback): HTTP mode, round robin, no stickiness, and the
// server side closed after each response, so that each request is
// balanced on its own whatever the client's keep-alive; event streams
// pass each write on at once (http-no-delay: otherwise HAProxy holds a
// stream's small writes, and a notification on the GET stream can arrive
// after the result it preceded). A backend that
// stops answering is taken out by a health check every 200ms, and a
// request that cannot connect to one is sent to another. It returns the
// frontend's address (127.0.0.1:port); HAProxy is stopped at cleanup. It
// skips t only when HAProxy is not installed (.ci/run installs it).
func HAProxy(t testing.TB, backends ...string) string {
	t.Helper()
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skipf("HAProxy is not installed (apt-get install haproxy): %v", err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatalf("haproxy: %v", err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	var servers strings.Builder
	for i, b := range backends {
		fmt.Fprintf(&servers, "  server r%d %s check inter 200ms fall 1 rise 2\n", i, b)
	}
	cfg := fmt.Sprintf(`global
  maxconn 1024
defaults
  mode http
  option http-server-close
  option http-no-delay
  option redispatch 1
  retries 3
  timeout connect 5s
  timeout client 120s
  timeout server 120s
frontend fe
  bind %s
  default_backend replicas
backend replicas
  balance roundrobin
%s`, addr, servers.String())
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatalf("haproxy: %v", err)
	}
	cmd := exec.Command(bin, "-db", "-f", path)
	out := &SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("haproxy: start: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			_ = c.Close()
			return addr
		}
		select {
		case err := <-done:
			t.Fatalf("haproxy exited before listening: %v\n%s", err, out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy did not listen on %s within 20s\n%s", addr, out.String())
		}
	}
}
