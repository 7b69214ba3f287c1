package throwaway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestPostgresStartsAndStopsWithoutTrace: the cluster takes writes over
// its URL, and Stop leaves neither a server on the port nor the folder.
func TestPostgresStartsAndStopsWithoutTrace(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pg, err := StartPostgres(ctx)
	if errors.Is(err, ErrMissing) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg.Stop() })
	conn, err := pgx.Connect(ctx, pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT current_setting('max_connections')::int").Scan(&n); err != nil || n != maxConnections {
		t.Fatalf("max_connections = %d, %v; want %d", n, err, maxConnections)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE t (x int); INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	_ = conn.Close(ctx)
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(pg.dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the cluster's folder %s is still there: %v", pg.dir, err)
	}
	if c, err := pgx.Connect(ctx, pg.URL); err == nil {
		_ = c.Close(ctx)
		t.Fatal("the cluster still answers after Stop")
	}
	if err := pg.Stop(); err != nil {
		t.Fatalf("a second Stop: %v", err)
	}
}

// TestHAProxyBalancesEachRequest: requests on one kept-alive client
// connection land on every backend in turn, and Stop closes the port.
func TestHAProxyBalancesEachRequest(t *testing.T) {
	var backends []string
	for i := range 3 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, i) }), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() { _ = srv.Close() })
		backends = append(backends, ln.Addr().String())
	}
	h, err := StartHAProxy(context.Background(), backends...)
	if errors.Is(err, ErrMissing) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Stop() })
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	seen := map[string]bool{}
	for range 6 {
		resp, err := client.Get("http://" + h.Addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		seen[string(body)] = true
	}
	if len(seen) != 3 {
		t.Fatalf("six requests reached backends %v, want all three", seen)
	}
	if err := h.Stop(); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", h.Addr, time.Second); err == nil {
		_ = c.Close()
		t.Fatal("HAProxy still listens after Stop")
	}
}

// TestMissingHAProxyNamesThePackage: without haproxy on PATH the error
// is ErrMissing and says what to install.
func TestMissingHAProxyNamesThePackage(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := StartHAProxy(context.Background(), "127.0.0.1:1")
	if !errors.Is(err, ErrMissing) || !strings.Contains(err.Error(), "apt-get install haproxy") {
		t.Fatalf("got %v, want ErrMissing naming the package", err)
	}
}
