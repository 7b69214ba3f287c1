// Package bench measures what warden costs: an echo tool called directly,
// through a plain forwarding hop, and through warden with durable history
// (with the upstream session shared by every agent, and with one upstream
// session per agent session), side by side in one process so that the
// ratios hold on a noisy machine.
//
// It also sets warden against its own limit on the machine it runs on. The
// model: warden's only unavoidable extra over the hop is two durable
// points per call (the call before forwarding, the result before
// returning), and with group commit each costs one fdatasync that
// concurrent sessions share. So each of n sessions' calls takes the hop's
// mean call time at that load (n / hop calls/s) plus two fdatasyncs (their
// p50, measured in the data directory in the same run), and the limit is
// n / (n/hop + 2·fdatasync) calls/s. The p50 rather than the mean: on a
// quiet disk the two are close, and on a shared one a few stalls decide
// the mean of a few hundred samples (the mean is reported beside it).
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
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/charmbracelet/log"
	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/warden-dev/warden/internal/cputime"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
	"github.com/warden-dev/warden/tools"
)

// Result is one measured configuration.
type Result struct {
	Mode string `json:"mode"`
	// Store is where the mode's history goes, in the PostgreSQL
	// comparison only: "none" (the hop), "bbolt" or "postgres"; Replicas
	// is how many wardens serve it there.
	Store    string `json:"store,omitempty"`
	Replicas int    `json:"replicas,omitempty"`
	Sessions int    `json:"sessions"`
	// Calls is how many calls completed in the measured time.
	Calls       int     `json:"calls"`
	CallsPerSec float64 `json:"calls_per_sec"`
	P50us       float64 `json:"p50_us"`
	P99us       float64 `json:"p99_us"`
	// OpenP50us and OpenP99us, for warden-per-session only, are what
	// opening an agent session's upstream session adds to its first call
	// (see openCost); the steady calls above never include it.
	OpenP50us float64 `json:"open_p50_us,omitempty"`
	OpenP99us float64 `json:"open_p99_us,omitempty"`
	// CPUusPerCall is the process's CPU time (user and system, from
	// getrusage) over the mode's run divided by the calls made: clients,
	// servers and upstream all run in this process, so modes compare by
	// what their whole path costs. CPUBusy is that CPU time over the run's
	// wall time and GOMAXPROCS: near 1 the mode is bound by the CPU, well
	// below it by waiting (for the disk, say). Both are absent where the
	// process's CPU time cannot be read (not unix).
	CPUusPerCall float64 `json:"cpu_us_per_call,omitempty"`
	CPUBusy      float64 `json:"cpu_busy,omitempty"`

	// The rest are for the modes with warden's log only (the warden modes,
	// and hop-durable, whose limit is the same model's). FsyncP50us, FsyncP99us and
	// FsyncMeanUs are one small in-place write and fdatasync in the data
	// directory, measured just before this concurrency level's modes;
	// LogFsyncMeanUs is the mean fdatasync of warden's own log while the
	// mode ran, which shows whether the log's syncs cost what the disk's do.
	FsyncP50us     float64 `json:"fsync_p50_us,omitempty"`
	FsyncP99us     float64 `json:"fsync_p99_us,omitempty"`
	FsyncMeanUs    float64 `json:"fsync_mean_us,omitempty"`
	LogFsyncMeanUs float64 `json:"log_fsync_mean_us,omitempty"`
	// LimitCallsPerSec is the model's limit (see the package comment) and
	// ShareOfLimit is CallsPerSec over it.
	LimitCallsPerSec float64 `json:"limit_calls_per_sec,omitempty"`
	ShareOfLimit     float64 `json:"share_of_limit,omitempty"`
	// EventsPerFsync is how many durable events one fdatasync of the log
	// carried (group commit), and WaitPerDurablePointUs what one Append
	// waited on average, from the call until its event was durable.
	EventsPerFsync        float64 `json:"events_per_fsync,omitempty"`
	WaitPerDurablePointUs float64 `json:"wait_per_durable_point_us,omitempty"`
}

// Options configure a run.
type Options struct {
	// Duration is the whole run's measuring time, split evenly among the
	// configurations; default 32s.
	Duration time.Duration
	// Sessions are the concurrency levels; default 1, 16, 64 and 256.
	Sessions []int
	// Dir holds warden's bbolt file; it should be on the disk warden would use.
	Dir string
	// Report, if set, receives each result as soon as it is measured.
	Report func(Result)
	// Floor adds floorMode after the hop: the hop with warden's two
	// durable appends per call on its own bbolt file in Dir. Not with
	// PostgresURL.
	Floor bool
	// PostgresURL, when set, makes the run the PostgreSQL comparison
	// (postgresModes) on that database, which it fills with sessions.
	PostgresURL string
	// Balance puts a round-robin balancer in front of the replicas
	// (host:port) and returns its host:port and how to stop it; default
	// a throwaway HAProxy.
	Balance func(ctx context.Context, backends []string) (addr string, stop func(), err error)
}

// The modes. "warden" shares one upstream session among all agents, as
// warden did before it opened one per agent session, so that its figures
// stay comparable with earlier runs; "warden-per-session" is the default
// for HTTP upstreams.
var modes = []string{"direct", "hop", "warden", "warden-per-session"}

// target is where a mode's sessions connect.
type target struct {
	url, token string
	// upstreamSessions counts warden's upstream sessions open for agents
	// (nil for the modes without warden): it proves the mode shares
	// upstream sessions as it claims.
	upstreamSessions func() int
	perSession       bool
	// stats reads warden's log counters (nil for the modes without
	// warden's write-ahead log).
	stats func() store.LogStats
	// store and replicas label the results of the PostgreSQL comparison
	// (Result.Store, Result.Replicas); empty in the default run.
	store    string
	replicas int
}

// syncSamples is how many fdatasyncs are timed before each concurrency
// level's modes.
const syncSamples = 200

const benchToken = "bench-token"

// Run measures every mode at every concurrency level: the default modes,
// or with PostgresURL those of the PostgreSQL comparison.
func Run(ctx context.Context, opts Options) ([]Result, error) {
	if opts.Duration <= 0 {
		opts.Duration = 32 * time.Second
	}
	if len(opts.Sessions) == 0 {
		opts.Sessions = []int{1, 16, 64, 256}
	}
	if opts.Dir == "" {
		return nil, errors.New("bench: no directory for the store")
	}
	measured, startWardens := modes, bboltModes
	if opts.PostgresURL != "" {
		if opts.Floor {
			return nil, errors.New("bench: the floor (hop-durable) is for the bbolt run only")
		}
		measured, startWardens = postgresModes, startPostgresModes
	}
	if opts.Floor {
		at := slices.Index(measured, "hop") + 1
		measured = slices.Insert(slices.Clone(measured), at, floorMode)
	}
	per := opts.Duration / time.Duration(len(measured)*len(opts.Sessions))

	r := &rig{}
	defer r.close()
	upURL, err := r.serve(mcpHandler(echoServer()))
	if err != nil {
		return nil, err
	}
	hopURL, closeHop, err := startHop(ctx, upURL, r.serve, nil)
	if err != nil {
		return nil, err
	}
	r.closers = append(r.closers, closeHop)
	targets := map[string]target{"direct": {url: upURL}, "hop": {url: hopURL, store: noStore(opts)}}
	if opts.Floor {
		if targets[floorMode], err = r.startFloor(ctx, upURL, opts.Dir); err != nil {
			return nil, err
		}
	}
	if err := startWardens(ctx, r, opts, upURL, targets); err != nil {
		return nil, err
	}

	// One session first in each mode, so that what a process does once
	// (its first upstream connection, its first records, code run the
	// first time) is not charged to the first session measured.
	for _, m := range measured {
		if _, err := throwaway(ctx, targets[m]); err != nil {
			return nil, fmt.Errorf("bench %s: %w", m, err)
		}
	}

	var out []Result
	for _, n := range opts.Sessions {
		var sharedFirst []time.Duration
		syncs, err := store.SyncLatency(ctx, opts.Dir, syncSamples)
		if err != nil {
			return out, fmt.Errorf("bench: %w", err)
		}
		fsyncP50, fsyncP99, fsyncMean := micros(syncs, 0.50), micros(syncs, 0.99), mean(syncs)
		var hop Result
		for _, m := range measured {
			t := targets[m]
			r, extra, err := measure(ctx, m, t, n, per)
			if err != nil {
				return out, fmt.Errorf("bench %s at %d sessions: %w", m, n, err)
			}
			r.Store, r.Replicas = t.store, t.replicas
			if t.stats != nil {
				r.FsyncP50us, r.FsyncP99us, r.FsyncMeanUs = fsyncP50, fsyncP99, fsyncMean
				if r.LimitCallsPerSec = limit(n, hop.CallsPerSec, fsyncP50); r.LimitCallsPerSec > 0 {
					r.ShareOfLimit = r.CallsPerSec / r.LimitCallsPerSec
				}
			}
			switch m { // "hop" comes before the warden modes, "warden" before "warden-per-session"
			case "hop":
				hop = r
			case "warden":
				sharedFirst = extra
			case "warden-per-session":
				r.OpenP50us, r.OpenP99us = openCost(extra, sharedFirst)
			}
			if opts.Report != nil {
				opts.Report(r)
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// limit is the model's limit for warden at n sessions (see the package
// comment): the hop's mean call time at that load plus two fdatasyncs.
func limit(n int, hopCallsPerSec, fsyncUs float64) float64 {
	if hopCallsPerSec <= 0 {
		return 0
	}
	return float64(n) / (float64(n)/hopCallsPerSec + 2*fsyncUs/1e6)
}

// logWork is what the log did between two readings of its counters:
// events per fdatasync, the mean wait of an append and the mean fdatasync,
// in microseconds.
func logWork(before, after store.LogStats) (eventsPerFsync, waitUs, syncUs float64) {
	appends, syncs := after.Appends-before.Appends, after.Syncs-before.Syncs
	if appends == 0 || syncs == 0 {
		return 0, 0, 0
	}
	wait, syncTime := after.Wait-before.Wait, after.SyncTime-before.SyncTime
	return float64(appends) / float64(syncs), float64(wait.Nanoseconds()) / 1e3 / float64(appends),
		float64(syncTime.Nanoseconds()) / 1e3 / float64(syncs)
}

// cpuShare is a run's CPU time per call, in microseconds, and its CPU
// utilisation: cpu over wall time and procs.
func cpuShare(cpu, wall time.Duration, calls, procs int) (usPerCall, busy float64) {
	if calls <= 0 || wall <= 0 || procs <= 0 {
		return 0, 0
	}
	return float64(cpu.Nanoseconds()) / 1e3 / float64(calls), cpu.Seconds() / wall.Seconds() / float64(procs)
}

// mean is the mean of latencies, in microseconds.
func mean(lats []time.Duration) float64 {
	var sum time.Duration
	for _, l := range lats {
		sum += l
	}
	return float64(sum.Nanoseconds()) / 1e3 / float64(len(lats))
}

// serveLoopback serves h on a free loopback port; the URL is its /mcp.
func serveLoopback(h http.Handler) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	url, stop = serveListener(ln, h)
	return url, stop, nil
}

// serveListener serves h on ln, and returns its MCP URL.
func serveListener(ln net.Listener, h http.Handler) (url string, stop func()) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String() + "/mcp", func() { _ = srv.Close() }
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
// history. around, if not nil, wraps each forward (floorMode records the
// call around it).
func startHop(ctx context.Context, upURL string, serve func(http.Handler) (string, error), around aroundForward) (string, func(), error) {
	up, err := dial(ctx, upURL, "")
	if err != nil {
		return "", nil, err
	}
	s := server.NewMCPServer("hop", "1.0.0", server.WithToolCapabilities(false))
	s.AddTool(mcp.NewTool("echo", mcp.WithString("message", mcp.Required())),
		func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			forward := func() (*mcp.CallToolResult, error) {
				out := mcp.CallToolRequest{}
				out.Params.Name = req.Params.Name
				out.Params.Arguments = req.Params.Arguments
				return up.CallTool(ctx, out)
			}
			if around == nil {
				return forward()
			}
			return around(ctx, req, forward)
		})
	url, err := serve(mcpHandler(s))
	return url, func() { _ = up.Close() }, err
}

// startFloor runs floorMode on its own bbolt file in dir, closed with the
// rig.
func (r *rig) startFloor(ctx context.Context, upURL, dir string) (target, error) {
	db, err := store.Open(filepath.Join(dir, floorMode+".db"))
	if err != nil {
		return target{}, fmt.Errorf("bench %s: %w", floorMode, err)
	}
	r.closers = append(r.closers, func() { _ = db.Close() })
	url, stop, err := startDurableHop(ctx, upURL, r.serve, db)
	if err != nil {
		return target{}, fmt.Errorf("bench %s: %w", floorMode, err)
	}
	r.closers = append(r.closers, stop)
	return target{url: url, stats: db.LogStats}, nil
}

// bboltModes starts the default run's warden modes, each on its own
// bbolt file in opts.Dir.
func bboltModes(ctx context.Context, r *rig, opts Options, upURL string, targets map[string]target) error {
	for _, w := range []struct {
		mode    string
		sharing tools.Sharing
	}{{"warden", tools.Shared}, {"warden-per-session", tools.PerSession}} {
		db, err := store.Open(filepath.Join(opts.Dir, w.mode+".db"))
		if err != nil {
			return fmt.Errorf("bench %s: %w", w.mode, err)
		}
		t, err := r.startWarden(ctx, upURL, db, w.sharing)
		if err != nil {
			return fmt.Errorf("bench %s: %w", w.mode, err)
		}
		targets[w.mode] = t
	}
	return nil
}

// startWarden runs the full path on db, which it closes at the end:
// front, session, decision, durable history, forwarding over upstream
// sessions shared as told.
func (r *rig) startWarden(ctx context.Context, upURL string, db store.Store, sharing tools.Sharing) (target, error) {
	return r.startWardenAs(ctx, upURL, db, sharing, false)
}

// startWardenAs is startWarden; a replica also advertises its listener to
// the others on the database (as warden serve does), so that they forward
// its sessions' requests to it rather than take the sessions over.
func (r *rig) startWardenAs(ctx context.Context, upURL string, db store.Store, sharing tools.Sharing, replica bool) (target, error) {
	quiet := log.New(nil)
	quiet.SetLevel(log.FatalLevel)
	hub, err := tools.NewHub([]tools.Spec{{Name: "echo", URL: upURL, Sharing: sharing}}, tools.Options{Logger: quiet})
	if err != nil {
		_ = db.Close()
		return target{}, err
	}
	sum := sha256.Sum256([]byte(benchToken))
	sup, err := supervisor.New(supervisor.Options{
		Hub: hub, Store: db, Logger: quiet,
		Agents: []supervisor.Agent{{Name: "bench", TokenSHA256: hex.EncodeToString(sum[:])}},
	})
	if err != nil {
		_ = db.Close()
		return target{}, err
	}
	r.closers = append(r.closers, func() {
		_ = sup.Close(context.Background())
		_ = hub.Close()
		_ = db.Close()
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return target{}, err
	}
	if replica {
		sup.AdvertiseAt("http://" + ln.Addr().String())
	}
	if err := sup.Start(ctx); err != nil {
		_ = ln.Close()
		return target{}, err
	}
	url := r.serveOn(ln, sup.Handler())
	t := target{url: url, token: benchToken, perSession: sharing == tools.PerSession, upstreamSessions: func() int {
		n := 0
		for _, st := range hub.Status() {
			n += st.Sessions
		}
		return n
	}}
	if l, ok := db.(interface{ LogStats() store.LogStats }); ok {
		t.stats = l.LogStats
	}
	return t, nil
}

// rig is what a run started, stopped in reverse order at its end.
type rig struct {
	closers []func()
}

// serve serves h on loopback until the rig closes.
func (r *rig) serve(h http.Handler) (string, error) {
	url, stop, err := serveLoopback(h)
	if err == nil {
		r.closers = append(r.closers, stop)
	}
	return url, err
}

// serveOn serves h on ln until the rig closes, and returns its MCP URL.
func (r *rig) serveOn(ln net.Listener, h http.Handler) string {
	url, stop := serveListener(ln, h)
	r.closers = append(r.closers, stop)
	return url
}

func (r *rig) close() {
	for i := len(r.closers) - 1; i >= 0; i-- {
		r.closers[i]()
	}
}

// dial opens an initialised client session over Streamable HTTP.
func dial(ctx context.Context, url, token string) (*client.Client, error) {
	var rt http.RoundTripper = &http.Transport{MaxIdleConnsPerHost: 64}
	if token != "" {
		// On every request, the DELETE of Close included (mcp-go leaves
		// WithHTTPHeaders off it): a session the bench is done with ends,
		// and with it the upstream session warden opened for it.
		rt = bearer{token: token, next: rt}
	}
	tr, err := transport.NewStreamableHTTP(url, transport.WithHTTPBasicClient(&http.Client{Transport: rt}))
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

// openSamples is how many fresh sessions at least have their first call
// timed in each configuration: below it, throwaway sessions make up the
// number, so that a quantile at one session is not a single sample.
const openSamples = 16

// steadyCalls is how many calls each session makes after its first, back
// to back, before the clock starts: their median is the session's steady
// latency, against which its first call is set.
const steadyCalls = 5

// measure runs n sessions calling echo in a loop for d.
// It also returns each session's first-call extra (firstCallExtra).
func measure(ctx context.Context, mode string, t target, n int, d time.Duration) (Result, []time.Duration, error) {
	clients := make([]*client.Client, n)
	for i := range clients {
		c, err := dial(ctx, t.url, t.token)
		if err != nil {
			return Result{}, nil, err
		}
		defer c.Close()
		clients[i] = c
	}
	// Warm up connections and code paths before the clock starts. A
	// session's first call is when warden-per-session opens its upstream
	// session: it is timed apart, and the clock starts after it.
	extra := make([]time.Duration, 0, max(n, openSamples))
	for _, c := range clients {
		x, err := firstCallExtra(ctx, c)
		if err != nil {
			return Result{}, nil, err
		}
		extra = append(extra, x)
	}
	for len(extra) < openSamples {
		x, err := throwaway(ctx, t)
		if err != nil {
			return Result{}, nil, err
		}
		extra = append(extra, x)
	}
	if err := t.checkSharing(n); err != nil {
		return Result{}, nil, err
	}
	var (
		mu   sync.Mutex
		lats []time.Duration
		wg   sync.WaitGroup
		errs = make(chan error, n)
	)
	var before store.LogStats
	if t.stats != nil {
		before = t.stats()
	}
	cpuBefore, cpuOK := cputime.Process()
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
	cpuAfter, _ := cputime.Process()
	close(errs)
	if err := <-errs; err != nil {
		return Result{}, nil, err
	}
	if len(lats) == 0 {
		return Result{}, nil, errors.New("no call completed")
	}
	slices.Sort(lats)
	r := Result{Mode: mode, Sessions: n, Calls: len(lats), CallsPerSec: float64(len(lats)) / elapsed.Seconds(), P50us: micros(lats, 0.50), P99us: micros(lats, 0.99)}
	if cpuOK {
		r.CPUusPerCall, r.CPUBusy = cpuShare(cpuAfter-cpuBefore, elapsed, len(lats), runtime.GOMAXPROCS(0))
	}
	if t.stats != nil {
		r.EventsPerFsync, r.WaitPerDurablePointUs, r.LogFsyncMeanUs = logWork(before, t.stats())
	}
	return r, extra, nil
}

// firstCallExtra is what a fresh session's first call costs over its
// steady calls: the first call's latency minus the median of the
// steadyCalls calls it makes next. One session's calls run back to back
// and the sessions one after another, so that both sides see the same
// unloaded machine and the difference is the work done once, on the first
// call: for warden-per-session, opening the upstream session (connect,
// initialize, initialized, and its record on the history). It is measured
// per session rather than against the loaded run's p50, whose queueing at
// 16 sessions would hide or inflate it.
func firstCallExtra(ctx context.Context, c *client.Client) (time.Duration, error) {
	first, err := echo(ctx, c)
	if err != nil {
		return 0, err
	}
	steady := make([]time.Duration, steadyCalls)
	for i := range steady {
		if steady[i], err = echo(ctx, c); err != nil {
			return 0, err
		}
	}
	slices.Sort(steady)
	return first - steady[steadyCalls/2], nil
}

// checkSharing fails the run unless warden shares upstream sessions as the
// mode says, with n agent sessions open: none for agents when shared, at
// least one per agent session when per session.
func (t target) checkSharing(n int) error {
	if t.upstreamSessions == nil {
		return nil
	}
	switch got := t.upstreamSessions(); {
	case t.perSession && got < n:
		return fmt.Errorf("%d upstream sessions open for %d agent sessions: not one each", got, n)
	case !t.perSession && got != 0:
		return fmt.Errorf("%d upstream sessions open for agents, want none: the upstream session is not shared", got)
	}
	return nil
}

// openCost is what opening an upstream session adds to an agent session's
// first call: each per-session first-call extra minus the median of the
// shared mode's, whose first calls do all the rest of a session's one-off
// work (its first records, its first decision) but open nothing. Its p50
// and p99 are over the measured sessions: at one session, one sample.
func openCost(perSession, shared []time.Duration) (p50, p99 float64) {
	if len(perSession) == 0 || len(shared) == 0 {
		return 0, 0
	}
	shared = slices.Sorted(slices.Values(shared))
	base := shared[(len(shared)-1)/2]
	open := make([]time.Duration, len(perSession))
	for i, x := range perSession {
		open[i] = x - base
	}
	slices.Sort(open)
	return micros(open, 0.50), micros(open, 0.99)
}

// throwaway opens a session, returns its first-call extra, and ends it.
func throwaway(ctx context.Context, t target) (time.Duration, error) {
	c, err := dial(ctx, t.url, t.token)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return firstCallExtra(ctx, c)
}

// micros is the p-quantile of sorted latencies, in microseconds.
func micros(sorted []time.Duration, p float64) float64 {
	return float64(sorted[int(p*float64(len(sorted)-1))].Nanoseconds()) / 1e3
}

// bearer adds the agent's token to every request.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
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
