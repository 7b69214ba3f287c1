package testkit

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// fatalRecorder is a testing.TB whose Fatalf records the message and ends
// the goroutine, as the real one does.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Helper() {}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// fatalOf runs f with a recorder and returns what it failed with ("" if
// it did not).
func fatalOf(f func(tb testing.TB)) string {
	r := &fatalRecorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r.msg
}

func TestSyncBufferConcurrentWriters(t *testing.T) {
	var b SyncBuffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				_, _ = b.Write([]byte("x"))
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if n := len(b.String()); n != 800 {
		t.Fatalf("%d bytes after 800 writes of one", n)
	}
}

func TestWaitFor(t *testing.T) {
	n := 0
	if msg := fatalOf(func(tb testing.TB) { WaitFor(tb, time.Minute, "three polls", func() bool { n++; return n == 3 }) }); msg != "" || n != 3 {
		t.Fatalf("WaitFor on a condition that comes true: failed %q after %d polls", msg, n)
	}
	msg := fatalOf(func(tb testing.TB) { WaitFor(tb, 30*time.Millisecond, "the impossible", func() bool { return false }) })
	if !strings.Contains(msg, "waiting for the impossible") {
		t.Fatalf("WaitFor on a condition that never holds failed with %q", msg)
	}
}

func TestRecv(t *testing.T) {
	full := make(chan int, 1)
	full <- 7
	closed := make(chan int)
	close(closed)
	tests := []struct {
		name    string
		ch      chan int
		want    int
		wantMsg string
	}{
		{"a value", full, 7, ""},
		{"nothing comes", make(chan int), 0, "timed out after 30ms waiting for a number"},
		{"closed", closed, 0, "a number: channel closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got int
			msg := fatalOf(func(tb testing.TB) { got = Recv(tb, tt.ch, 30*time.Millisecond, "a number") })
			if got != tt.want || msg != tt.wantMsg {
				t.Fatalf("Recv = %d, failed %q; want %d, %q", got, msg, tt.want, tt.wantMsg)
			}
		})
	}
}

func TestAdminDo(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer adm" {
			http.Error(w, `{"error":"who are you"}`, http.StatusUnauthorized)
			return
		}
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, `{"method":%q,"path":%q,"body":%q}`, r.Method, r.URL.Path, b)
	}))
	t.Cleanup(srv.Close)
	var out struct{ Method, Path, Body string }
	st, raw := Admin{Base: srv.URL, Token: "adm"}.Do(t, http.MethodPost, "/v1/x", map[string]string{"by": "alice"}, &out)
	if st != http.StatusOK || out.Method != http.MethodPost || out.Path != "/v1/x" || out.Body != `{"by":"alice"}` {
		t.Fatalf("Do = %d %s, decoded %+v", st, raw, out)
	}
	out = struct{ Method, Path, Body string }{}
	st, raw = Admin{Base: srv.URL, Token: "wrong"}.Do(t, http.MethodGet, "/v1/x", nil, &out)
	if st != http.StatusUnauthorized || !strings.Contains(raw, "who are you") || out.Method != "" {
		t.Fatalf("Do with a wrong token = %d %s, decoded %+v; want 401 and nothing decoded", st, raw, out)
	}
}

// TestDial: a real mcp-go server sees the bearer token and the client's
// name in the handshake.
func TestDial(t *testing.T) {
	seen := make(chan string, 1)
	s := server.NewMCPServer("kit", "1")
	s.AddTool(mcp.NewTool("whoami"), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return mcp.NewToolResultText(req.Header.Get("Authorization")), nil
	})
	hooks := &server.Hooks{}
	hooks.AddAfterInitialize(func(_ context.Context, _ any, req *mcp.InitializeRequest, _ *mcp.InitializeResult) {
		seen <- req.Params.ClientInfo.Name
	})
	server.WithHooks(hooks)(s)
	srv := httptest.NewServer(server.NewStreamableHTTPServer(s))
	t.Cleanup(srv.Close)
	c, err := Dial(srv.URL, "tok-1", "kit-test", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if name := Recv(t, seen, 10*time.Second, "the initialize hook"); name != "kit-test" {
		t.Fatalf("server saw client %q", name)
	}
	req := mcp.CallToolRequest{}
	req.Params.Name = "whoami"
	res, err := c.CallTool(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Content[0].(mcp.TextContent).Text; got != "Bearer tok-1" {
		t.Fatalf("server saw Authorization %q", got)
	}
}

func TestNPMInstalled(t *testing.T) {
	const locked = `{"lockfileVersion":3,"packages":{
		"":{"name":"p"},
		"node_modules/a":{"version":"1.0.0","resolved":"https://r/a-1.0.0.tgz","integrity":"sha512-a"},
		"node_modules/b-darwin":{"version":"2.0.0","resolved":"https://r/b.tgz","integrity":"sha512-b","optional":true}}}`
	tests := []struct {
		name    string
		hidden  string // node_modules/.package-lock.json; "" for none
		want    bool
		wantErr string
	}{
		{"matches, optional absent", `{"packages":{"node_modules/a":{"version":"1.0.0","resolved":"https://r/a-1.0.0.tgz","integrity":"sha512-a"}}}`, true, ""},
		{"nothing installed", "", false, "read lockfile"},
		{"other version", `{"packages":{"node_modules/a":{"version":"1.0.1","resolved":"https://r/a-1.0.0.tgz","integrity":"sha512-a"}}}`, false, "installed at 1.0.1, locked at 1.0.0"},
		{"other integrity", `{"packages":{"node_modules/a":{"version":"1.0.0","resolved":"https://r/a-1.0.0.tgz","integrity":"sha512-evil"}}}`, false, "node_modules/a"},
		{"missing", `{"packages":{}}`, false, "node_modules/a is not installed"},
		{"extra", `{"packages":{"node_modules/a":{"version":"1.0.0","resolved":"https://r/a-1.0.0.tgz","integrity":"sha512-a"},"node_modules/z":{}}}`, false, "node_modules/z is installed but not locked"},
		{"version 1", `{"dependencies":{}}`, false, "lockfile version 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, filepath.Join(dir, "package-lock.json"), locked)
			if tt.hidden != "" {
				write(t, filepath.Join(dir, "node_modules", ".package-lock.json"), tt.hidden)
			}
			got, err := npmInstalled(dir)
			if got != tt.want || (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("npmInstalled = %v, %v; want %v, error containing %q", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// TestNPMInstallKeepsAnInstalledTree: a tree that matches its lockfile is
// left alone, so no npm is needed (PATH is emptied to prove it).
func TestNPMInstallKeepsAnInstalledTree(t *testing.T) {
	dir := t.TempDir()
	lock := `{"packages":{"":{},"node_modules/a":{"version":"1.0.0"}}}`
	write(t, filepath.Join(dir, "package-lock.json"), lock)
	write(t, filepath.Join(dir, "node_modules", ".package-lock.json"), `{"packages":{"node_modules/a":{"version":"1.0.0"}}}`)
	t.Setenv("PATH", "")
	if err := NPMInstall(context.Background(), dir); err != nil {
		t.Fatalf("NPMInstall of an installed tree: %v", err)
	}
	write(t, filepath.Join(dir, "node_modules", ".package-lock.json"), `{"packages":{}}`)
	if err := NPMInstall(context.Background(), dir); err == nil || !strings.Contains(err.Error(), "npm is not on PATH") {
		t.Fatalf("NPMInstall of a stale tree without npm: %v; want it to say npm is missing", err)
	}
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}
