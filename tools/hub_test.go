package tools_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"go.uber.org/goleak"

	"github.com/warden-dev/warden/tools"
)

// TestMain fails the package when a test leaves a goroutine behind: every
// goroutine the hub starts must be joined by Close.
func TestMain(m *testing.M) {
	if runAsChild() {
		return
	}
	goleak.VerifyTestMain(m)
}

// TestCloseWaitsForRefresh has an upstream say its tool list changed and
// hold the listing that follows; Close must end that listing and wait for
// it, and no catalog may be published once Close has begun.
func TestCloseWaitsForRefresh(t *testing.T) {
	up := server.NewMCPServer("up", "1", server.WithToolCapabilities(true))
	up.AddTool(mcp.NewTool("first"), echo)
	held := newListHold()
	srv := httptest.NewServer(held.wrap(server.NewStreamableHTTPServer(up,
		server.WithStreamableHTTPProtocolVersions("2025-11-25", "2025-06-18", "2025-03-26"))))
	t.Cleanup(srv.Close)
	t.Cleanup(held.release)

	hub, err := tools.NewHub([]tools.Spec{{Name: "up", URL: srv.URL}}, tools.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var closing atomic.Bool
	var late atomic.Int32
	blockLate := make(chan struct{})
	t.Cleanup(func() { close(blockLate) })
	hub.Start(t.Context(), nil, func(*tools.Catalog) {
		if closing.Load() {
			// A listing that escaped Close would publish here, and stay
			// here, so the leak check below sees it.
			late.Add(1)
			<-blockLate
		}
	})
	if n := len(hub.Catalog().Tools); n != 1 {
		t.Fatalf("catalog has %d tools after Start, want 1", n)
	}

	held.arm()
	up.AddTool(mcp.NewTool("second"), echo) // sends tools/list_changed
	<-held.entered                          // the hub is listing again, and the upstream holds it

	closing.Store(true)
	if err := hub.Close(); err != nil {
		t.Fatal(err)
	}
	held.release()
	srv.Close()
	if err := goleak.Find(); err != nil {
		t.Fatalf("a goroutine outlived Close: %v", err)
	}
	if n := late.Load(); n != 0 {
		t.Fatalf("%d catalogs were published after Close began", n)
	}
}

func echo(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	return mcp.NewToolResultText("ok"), nil
}

// listHold is an upstream's front door that, once armed, holds the next
// tools/list until released or until the client gives up on it.
type listHold struct {
	armed    atomic.Bool
	entered  chan struct{}
	enterOne sync.Once
	released chan struct{}
	relOne   sync.Once
}

func newListHold() *listHold {
	return &listHold{entered: make(chan struct{}), released: make(chan struct{})}
}

func (l *listHold) arm()     { l.armed.Store(true) }
func (l *listHold) release() { l.relOne.Do(func() { close(l.released) }) }

func (l *listHold) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && l.armed.Load() {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			if strings.Contains(string(body), `"method":"tools/list"`) {
				l.enterOne.Do(func() { close(l.entered) })
				select {
				case <-l.released:
				case <-r.Context().Done():
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}
