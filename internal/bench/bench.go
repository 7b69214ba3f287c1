// Package bench measures what warden costs: an echo tool called directly,
// through a plain forwarding hop, and through warden with durable history,
// side by side in one process so that the ratios hold on a noisy machine.
package bench

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/charmbracelet/log"
	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
	"github.com/warden-dev/warden/tools"
)

// Result is one measured configuration.
type Result struct {
	Mode        string  `json:"mode"`
	Sessions    int     `json:"sessions"`
	CallsPerSec float64 `json:"calls_per_sec"`
	P50us       float64 `json:"p50_us"`
	P99us       float64 `json:"p99_us"`
}

// Options configure a run.
type Options struct {
	// Duration is the whole run's measuring time, split evenly among the
	// configurations; default 24s.
	Duration time.Duration
	// Sessions are the concurrency levels; default 1 and 16.
	Sessions []int
	// Dir holds warden's bbolt file; it should be on the disk warden would use.
	Dir string
	// Report, if set, receives each result as soon as it is measured.
	Report func(Result)
}

var modes = []string{"direct", "hop", "warden"}

const benchToken = "bench-token"

// Run measures every mode at every concurrency level.
func Run(ctx context.Context, opts Options) ([]Result, error) {
	if opts.Duration <= 0 {
		opts.Duration = 24 * time.Second
	}
	if len(opts.Sessions) == 0 {
		opts.Sessions = []int{1, 16}
	}
	if opts.Dir == "" {
		return nil, errors.New("bench: no directory for the store")
	}
	per := opts.Duration / time.Duration(len(modes)*len(opts.Sessions))

	var closers []func()
	defer func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}()
	serve := func(h http.Handler) (string, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		closers = append(closers, func() { _ = srv.Close() })
		return "http://" + ln.Addr().String() + "/mcp", nil
	}

	upURL, err := serve(mcpHandler(echoServer()))
	if err != nil {
		return nil, err
	}
	hopURL, closeHop, err := startHop(ctx, upURL, serve)
	if err != nil {
		return nil, err
	}
	closers = append(closers, closeHop)
	wardenURL, closeWarden, err := startWarden(ctx, upURL, opts.Dir, serve)
	if err != nil {
		return nil, err
	}
	closers = append(closers, closeWarden)

	urls := map[string]string{"direct": upURL, "hop": hopURL, "warden": wardenURL}
	var out []Result
	for _, n := range opts.Sessions {
		for _, m := range modes {
			r, err := measure(ctx, m, urls[m], n, per)
			if err != nil {
				return out, fmt.Errorf("bench %s at %d sessions: %w", m, n, err)
			}
			if opts.Report != nil {
				opts.Report(r)
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// echoServer is the upstream: one tool that returns its message.
func echoServer() *server.MCPServer {
	s := server.NewMCPServer("echo", "1.0.0", server.WithToolCapabilities(false))
	s.AddTool(mcp.NewTool("echo", mcp.WithString("message", mcp.Required())),
		func(_ context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultText(req.GetString("message", "")), nil
		})
	return s
}

func mcpHandler(s *server.MCPServer) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/mcp", server.NewStreamableHTTPServer(s,
		server.WithStreamableHTTPProtocolVersions("2025-11-25", "2025-06-18", "2025-03-26")))
	return mux
}

// startHop runs the floor for any proxy: an mcp-go server whose echo tool
// forwards to the upstream through one mcp-go client, with no policy and no
// history.
func startHop(ctx context.Context, upURL string, serve func(http.Handler) (string, error)) (string, func(), error) {
	up, err := dial(ctx, upURL, "")
	if err != nil {
		return "", nil, err
	}
	s := server.NewMCPServer("hop", "1.0.0", server.WithToolCapabilities(false))
	s.AddTool(mcp.NewTool("echo", mcp.WithString("message", mcp.Required())),
		func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			out := mcp.CallToolRequest{}
			out.Params.Name = req.Params.Name
			out.Params.Arguments = req.Params.Arguments
			return up.CallTool(ctx, out)
		})
	url, err := serve(mcpHandler(s))
	return url, func() { _ = up.Close() }, err
}

// startWarden runs the full path: front, session, decision, durable
// history with fsync, forwarding.
func startWarden(ctx context.Context, upURL, dir string, serve func(http.Handler) (string, error)) (string, func(), error) {
	db, err := store.Open(filepath.Join(dir, "bench.db"))
	if err != nil {
		return "", nil, err
	}
	quiet := log.New(nil)
	quiet.SetLevel(log.FatalLevel)
	hub, err := tools.NewHub([]tools.Spec{{Name: "echo", URL: upURL}}, tools.Options{Logger: quiet})
	if err != nil {
		_ = db.Close()
		return "", nil, err
	}
	sum := sha256.Sum256([]byte(benchToken))
	sup, err := supervisor.New(supervisor.Options{
		Hub: hub, Store: db, Logger: quiet,
		Agents: []supervisor.Agent{{Name: "bench", TokenSHA256: hex.EncodeToString(sum[:])}},
	})
	if err != nil {
		_ = db.Close()
		return "", nil, err
	}
	if err := sup.Start(ctx); err != nil {
		_ = db.Close()
		return "", nil, err
	}
	url, err := serve(sup.Handler())
	return url, func() {
		_ = sup.Close(context.Background())
		_ = hub.Close()
		_ = db.Close()
	}, err
}

// dial opens an initialised client session over Streamable HTTP.
func dial(ctx context.Context, url, token string) (*client.Client, error) {
	var opts []transport.StreamableHTTPCOption
	if token != "" {
		opts = append(opts, transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + token}))
	}
	opts = append(opts, transport.WithHTTPBasicClient(&http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}))
	tr, err := transport.NewStreamableHTTP(url, opts...)
	if err != nil {
		return nil, err
	}
	c := client.NewClient(tr, client.WithProtocolVersion(mcp.LATEST_LEGACY_PROTOCOL_VERSION))
	if err := c.Start(ctx); err != nil {
		return nil, err
	}
	init := mcp.InitializeRequest{}
	init.Params.ProtocolVersion = mcp.LATEST_LEGACY_PROTOCOL_VERSION
	init.Params.ClientInfo = mcp.Implementation{Name: "warden-bench", Version: "1"}
	if _, err := c.Initialize(ctx, init); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// measure runs n sessions calling echo in a loop for d.
func measure(ctx context.Context, mode, url string, n int, d time.Duration) (Result, error) {
	token := ""
	if mode == "warden" {
		token = benchToken
	}
	clients := make([]*client.Client, n)
	for i := range clients {
		c, err := dial(ctx, url, token)
		if err != nil {
			return Result{}, err
		}
		defer c.Close()
		clients[i] = c
	}
	// Warm up connections and code paths before the clock starts.
	for _, c := range clients {
		if _, err := echo(ctx, c); err != nil {
			return Result{}, err
		}
	}
	var (
		mu   sync.Mutex
		lats []time.Duration
		wg   sync.WaitGroup
		errs = make(chan error, n)
	)
	deadline := time.Now().Add(d)
	start := time.Now()
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 4096)
			for time.Now().Before(deadline) && ctx.Err() == nil {
				lat, err := echo(ctx, c)
				if err != nil {
					errs <- err
					return
				}
				local = append(local, lat)
			}
			mu.Lock()
			lats = append(lats, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return Result{}, err
	}
	if len(lats) == 0 {
		return Result{}, errors.New("no call completed")
	}
	slices.Sort(lats)
	q := func(p float64) float64 {
		return float64(lats[int(p*float64(len(lats)-1))].Nanoseconds()) / 1e3
	}
	return Result{Mode: mode, Sessions: n, CallsPerSec: float64(len(lats)) / elapsed.Seconds(), P50us: q(0.50), P99us: q(0.99)}, nil
}

func echo(ctx context.Context, c *client.Client) (time.Duration, error) {
	req := mcp.CallToolRequest{}
	req.Params.Name = "echo"
	req.Params.Arguments = map[string]any{"message": "hello"}
	t := time.Now()
	res, err := c.CallTool(ctx, req)
	if err != nil {
		return 0, err
	}
	if res.IsError {
		return 0, fmt.Errorf("echo failed: %v", res.Content)
	}
	return time.Since(t), nil
}
