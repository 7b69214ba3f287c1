package throwaway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// HAProxy is a running HAProxy.
type HAProxy struct {
	// Addr is the frontend's address, 127.0.0.1:port.
	Addr string

	cmd  *exec.Cmd
	done chan error
	dir  string
	once sync.Once
}

// startWithin bounds HAProxy's start, which takes milliseconds.
const startWithin = 20 * time.Second

// StartHAProxy starts HAProxy (Debian's package) in front of backends
// (host:port on loopback): HTTP mode, round robin, no stickiness, and the
// server side closed after each response, so that each request is
// balanced on its own whatever the client's keep-alive; event streams
// pass each write on at once (http-no-delay: otherwise HAProxy holds a
// stream's small writes, and a notification on the GET stream can arrive
// after the result it preceded). A backend that stops answering is taken out by a health check every 200ms, and a
// request that cannot connect to one is sent to another. It returns once
// the frontend listens; Stop stops it. Without HAProxy the error wraps
// ErrMissing.
func StartHAProxy(ctx context.Context, backends ...string) (*HAProxy, error) {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		return nil, fmt.Errorf("HAProxy is %w (apt-get install haproxy): %v", ErrMissing, err)
	}
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("haproxy: %w", err)
	}
	dir, err := os.MkdirTemp("", "warden-haproxy-")
	if err != nil {
		return nil, fmt.Errorf("haproxy: %w", err)
	}
	h := &HAProxy{Addr: fmt.Sprintf("127.0.0.1:%d", port), dir: dir, done: make(chan error, 1)}
	if err := h.start(ctx, bin, backends); err != nil {
		return nil, errors.Join(err, h.Stop())
	}
	return h, nil
}

func (h *HAProxy) start(ctx context.Context, bin string, backends []string) error {
	path := filepath.Join(h.dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(haproxyConfig(h.Addr, backends)), 0o600); err != nil {
		return fmt.Errorf("haproxy: %w", err)
	}
	logPath := filepath.Join(h.dir, "log")
	out, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("haproxy: %w", err)
	}
	defer out.Close() // the child has its own copy
	h.cmd = ownGroup(exec.Command(bin, "-db", "-f", path))
	h.cmd.Stdout, h.cmd.Stderr = out, out
	if err := h.cmd.Start(); err != nil {
		return fmt.Errorf("haproxy: start: %w", err)
	}
	go func() { h.done <- h.cmd.Wait() }()
	ctx, cancel := context.WithTimeout(ctx, startWithin)
	defer cancel()
	for {
		if c, err := net.DialTimeout("tcp", h.Addr, time.Second); err == nil {
			return c.Close()
		}
		select {
		case err := <-h.done:
			h.done <- err // for Stop
			logText, _ := os.ReadFile(logPath)
			return fmt.Errorf("haproxy exited before listening: %v\n%s", err, logText)
		case <-ctx.Done():
			logText, _ := os.ReadFile(logPath)
			return fmt.Errorf("haproxy did not listen on %s: %w\n%s", h.Addr, ctx.Err(), logText)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// haproxyConfig balances addr over backends, as StartHAProxy says.
func haproxyConfig(addr string, backends []string) string {
	var servers strings.Builder
	for i, b := range backends {
		fmt.Fprintf(&servers, "  server r%d %s check inter 200ms fall 1 rise 2\n", i, b)
	}
	return fmt.Sprintf(`global
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
}

// Stop kills HAProxy, waits for it and removes its folder. Calling it
// again does nothing.
func (h *HAProxy) Stop() error {
	var err error
	h.once.Do(func() {
		if h.cmd != nil && h.cmd.Process != nil {
			_ = h.cmd.Process.Kill()
			<-h.done
		}
		err = os.RemoveAll(h.dir)
	})
	return err
}
