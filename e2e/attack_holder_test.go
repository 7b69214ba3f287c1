package e2e

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/warden-dev/warden/internal/testkit"
)

// nobody is the uid and gid of another local user, for tests run as root.
const nobody = 65534

// fakeServe is an attacker's endpoint that answers anything with 200 and
// counts what reaches it.
func fakeServe(t *testing.T) (url string, hits *atomic.Int64) {
	t.Helper()
	hits = &atomic.Int64{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, hits
}

// TestAttackStdioForgedHolder: a holder file that another user could have
// written (a data folder or file others can write, a link) or that names
// something other than a loopback address is not believed: `warden stdio`
// sends nothing there (neither the agent's traffic nor its probe) and
// supervises the session itself.
func TestAttackStdioForgedHolder(t *testing.T) {
	bin := buildWarden(t)
	cases := []struct {
		name  string
		url   func(fake string) string
		plant func(t *testing.T, data string, holder []byte)
	}{
		{"data folder writable by others", nil, func(t *testing.T, data string, holder []byte) {
			mustChmod(t, data, 0o777)
			writeFile(t, filepath.Join(data, "holder.json"), holder, 0o600)
		}},
		{"holder file writable by others", nil, func(t *testing.T, data string, holder []byte) {
			writeFile(t, filepath.Join(data, "holder.json"), holder, 0o600)
			mustChmod(t, filepath.Join(data, "holder.json"), 0o666)
		}},
		{"holder file is a link", nil, func(t *testing.T, data string, holder []byte) {
			elsewhere := filepath.Join(t.TempDir(), "planted.json")
			writeFile(t, elsewhere, holder, 0o600)
			if err := os.Symlink(elsewhere, filepath.Join(data, "holder.json")); err != nil {
				t.Fatal(err)
			}
		}},
		{"data folder and file of another user", nil, func(t *testing.T, data string, holder []byte) {
			if os.Getuid() != 0 {
				t.Skip("giving files to another user needs root")
			}
			writeFile(t, filepath.Join(data, "holder.json"), holder, 0o600)
			for _, p := range []string{data, filepath.Join(data, "holder.json")} {
				if err := os.Chown(p, nobody, nobody); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"a host name, not a loopback address", func(fake string) string { return strings.Replace(fake, "127.0.0.1", "localhost", 1) },
			func(t *testing.T, data string, holder []byte) {
				writeFile(t, filepath.Join(data, "holder.json"), holder, 0o600)
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _ := shareConfig(t)
			data := filepath.Join(filepath.Dir(cfg), "data")
			if err := os.Mkdir(data, 0o700); err != nil {
				t.Fatal(err)
			}
			fake, hits := fakeServe(t)
			url := fake + "/mcp"
			if tc.url != nil {
				url = tc.url(fake) + "/mcp"
			}
			holder, err := json.Marshal(map[string]any{"pid": os.Getpid(), "command": "serve", "mcp": url,
				"tokens": map[string]string{"desktop": "attacker-chosen"}})
			if err != nil {
				t.Fatal(err)
			}
			tc.plant(t, data, holder)

			l := launchStdio(t, bin, cfg, "desktop", []string{"PATH=" + os.Getenv("PATH")})
			if err := testkit.Start(l.c, "desktop-client"); err != nil {
				t.Fatalf("initialize: %v\nstderr:\n%s", err, l.stderr)
			}
			if got := resultText(callTool(t, l.c, "read_file", map[string]any{"path": "policies/refunds.md"})); !strings.Contains(got, "200 EUR") {
				t.Fatalf("read_file = %q\nstderr:\n%s", got, l.stderr)
			}
			if res := callTool(t, l.c, "issue_refund", map[string]any{"customer_id": "C-1001", "iban": "X", "amount": 1}); !res.IsError {
				t.Fatalf("a hidden tool was callable: %+v", res)
			}
			if n := hits.Load(); n != 0 {
				t.Fatalf("stdio sent %d requests to the endpoint a forged holder file named\nstderr:\n%s", n, l.stderr)
			}
			if !strings.Contains(l.stderr.String(), "cannot be trusted") {
				t.Errorf("stdio did not say why it ignored the holder file:\n%s", l.stderr)
			}
		})
	}
}

// TestAttackServeHolderInSharedFolder: serve does not publish its local
// tokens into a data folder other users can write (they could read the
// file through a name they pre-created, or replace it); it says so.
func TestAttackServeHolderInSharedFolder(t *testing.T) {
	bin := buildWarden(t)
	cfg, _ := shareConfig(t)
	data := filepath.Join(filepath.Dir(cfg), "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	mustChmod(t, data, 0o777)
	serve := startServe(t, bin, cfg)
	if _, err := os.Lstat(filepath.Join(data, "holder.json")); !os.IsNotExist(err) {
		b, _ := os.ReadFile(filepath.Join(data, "holder.json"))
		t.Fatalf("serve published its local tokens in a folder others can write (%v): %s", err, b)
	}
	if !strings.Contains(serve.stderr.String(), "writable by other users") {
		t.Errorf("serve did not say why stdio cannot act through it:\n%s", serve.stderr)
	}
}

func mustChmod(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
}

// TestAttackStdioStaleHolderPortTaken: a serve killed with -9 leaves its
// holder file; another local user then listens on the loopback port it
// names. A stdio started later must not take that endpoint for serve
// (its client's whole session would go there, unsupervised): nobody holds
// the history, so it opens it itself.
func TestAttackStdioStaleHolderPortTaken(t *testing.T) {
	bin := buildWarden(t)
	cfg, _ := shareConfig(t)
	serve := startServe(t, bin, cfg)
	if err := serve.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-serve.done
	b, err := os.ReadFile(filepath.Join(filepath.Dir(cfg), "data", "holder.json"))
	if err != nil {
		t.Fatalf("the killed serve left no holder file: %v", err)
	}
	var h struct {
		MCP string `json:"mcp"`
	}
	if err := json.Unmarshal(b, &h); err != nil || !strings.HasPrefix(h.MCP, "http://127.0.0.1:") {
		t.Fatalf("holder file: %v: %s", err, b)
	}
	addr := strings.TrimSuffix(strings.TrimPrefix(h.MCP, "http://"), "/mcp")
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("take the dead serve's port %s: %v", addr, err)
	}
	var hits atomic.Int64
	squatter := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusOK)
	})}
	go func() { _ = squatter.Serve(ln) }()
	t.Cleanup(func() { _ = squatter.Close() })

	l := launchStdio(t, bin, cfg, "desktop", []string{"PATH=" + os.Getenv("PATH")})
	if err := testkit.Start(l.c, "desktop-client"); err != nil {
		t.Fatalf("initialize: %v\nstderr:\n%s", err, l.stderr)
	}
	if got := resultText(callTool(t, l.c, "read_file", map[string]any{"path": "policies/refunds.md"})); !strings.Contains(got, "200 EUR") {
		t.Fatalf("read_file = %q\nstderr:\n%s", got, l.stderr)
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("stdio sent %d requests to whoever listens on a dead serve's port\nstderr:\n%s", n, l.stderr)
	}
}
