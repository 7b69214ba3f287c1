package tools

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	"github.com/charmbracelet/log"
	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/warden-dev/warden/tracing"
)

// Reconnection and health-check timing. A dead stdio child is noticed by the
// next request that fails or by the periodic ping, whichever comes first.
const (
	minBackoff     = 200 * time.Millisecond
	maxBackoff     = 30 * time.Second
	connectTimeout = 30 * time.Second
	pingInterval   = 15 * time.Second
	pingTimeout    = 5 * time.Second
	stableAfter    = 10 * time.Second
)

// errDown is wrapped by every error for a request that found its upstream
// disconnected.
var errDown = errors.New("upstream unavailable")

// upstream is the supervisor of one upstream connection: it connects,
// lists what the server offers, watches its health and reconnects with
// backoff, for as long as the hub runs.
type upstream struct {
	spec Spec
	hub  *Hub
	log  *log.Logger
	ctx  context.Context    // its life: ends with the hub's, or when a reload removes it
	stop context.CancelFunc // ends ctx
	http *http.Client       // tuned transport shared by this upstream's requests (trap 11)

	kick   chan struct{} // a request failed: check health now
	relist chan struct{} // the upstream said a list changed: list again

	mu       sync.RWMutex
	cli      *client.Client // nil while down
	changed  chan struct{}  // closed, and replaced, whenever cli changes
	caps     mcp.ServerCapabilities
	lastErr  error
	offer    offer
	inflight map[*call]struct{}

	// Agents' upstream sessions, unless the upstream is Shared (under mu).
	links   map[string]*link  // by owner: agent session id or agent name
	spare   []*link           // open, with no owner yet
	filling int               // spares being opened
	gone    map[string]string // owners whose upstream session closed → why; their next one replaces it

	// lost counts the times warden's own connection was lost after it was
	// up (a child that exited, a server that failed its health check).
	lost atomic.Int64
}

// offer is what an upstream serves, as it named it.
type offer struct {
	tools     []mcp.Tool
	resources []mcp.Resource
	templates []mcp.ResourceTemplate
	prompts   []mcp.Prompt
}

func newUpstream(spec Spec, h *Hub) *upstream {
	ctx, stop := context.WithCancel(h.runCtx)
	return &upstream{
		ctx:  ctx,
		stop: stop,
		spec: spec,
		hub:  h,
		log:  h.log.With("upstream", spec.Name),
		http: &http.Client{Transport: &http.Transport{
			Proxy:               nil, // upstreams are named explicitly; never route them via an environment proxy
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     90 * time.Second,
		}},
		kick:     make(chan struct{}, 1),
		relist:   make(chan struct{}, 1),
		changed:  make(chan struct{}),
		lastErr:  errors.New("not connected yet"),
		inflight: make(map[*call]struct{}),
		links:    map[string]*link{},
		gone:     map[string]string{},
	}
}

// run keeps the upstream connected until ctx ends. Everything it starts,
// lists included, is done by the time it returns.
func (u *upstream) run(ctx context.Context, ready func()) {
	backoff := minBackoff
	readyOnce := sync.OnceFunc(ready)
	defer readyOnce()
	defer u.http.CloseIdleConnections() // their read loops would outlive the hub
	for ctx.Err() == nil {
		conn, err := u.connect(ctx)
		if err != nil {
			u.setDown(err)
			u.log.Warn("cannot connect", "transport", u.spec.transportName(), "err", u.redact(err), "retry_in", backoff)
			readyOnce() // the first attempt is over; the catalog is served without it
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(backoff*2, maxBackoff)
			continue
		}
		u.log.Info("connected", "transport", u.spec.transportName())
		u.refresh(ctx)
		readyOnce()
		if u.spec.sharing() != Shared {
			u.fillSpares()
		}
		since := time.Now()
		err = u.watch(ctx, conn.cli)
		u.setDown(err)
		conn.close()
		if ctx.Err() != nil {
			return
		}
		u.lost.Add(1)
		u.log.Warn("connection lost; reconnecting", "err", u.redact(err), "retry_in", backoff)
		// Only a connection that held for a while earns a fresh backoff: a
		// child that dies on every call is not restarted in a tight loop.
		if time.Since(since) > stableAfter {
			backoff = minBackoff
			continue
		}
		if !sleep(ctx, backoff) {
			return
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

// conn is one live connection: the client and, for stdio, its child.
type conn struct {
	cli *client.Client
	kid *child // nil unless stdio
}

// stdioGrace is how long a stdio child has to exit by itself once its
// stdin is closed, before its whole process group is asked to (SIGTERM).
const stdioGrace = 500 * time.Millisecond

// close closes the transport (which ends a stdio child gracefully if it
// can), then removes whatever the child left running. A child that does
// not exit at end-of-file within stdioGrace (npx waits for its node
// server, which keeps running while it has timers) gets SIGTERM with its
// descendants: mcp-go would signal the child alone, after two seconds,
// and the descendants would then be killed with no chance to clean up.
func (c conn) close() {
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.cli.Close()
	}()
	if c.kid != nil {
		select {
		case <-done:
		case <-time.After(stdioGrace):
			c.kid.terminate()
		}
	}
	<-done
	c.kid.stop()
}

// connect opens the upstream's own session: the one that lists what it
// offers for the catalog and serves agents when it is Shared.
func (u *upstream) connect(ctx context.Context) (conn, error) {
	ictx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	c, caps, err := u.dial(ictx, ctx, nil)
	if err != nil {
		return conn{}, err
	}
	u.mu.Lock()
	u.cli, u.caps, u.lastErr = c.cli, caps, nil
	u.signalChangeLocked()
	u.mu.Unlock()
	return c, nil
}

// dial starts a transport and runs the initialize handshake within ctx.
// life bounds the connection (a stdio child, an HTTP listening stream).
// What the upstream sends on it is routed for l, or for the upstream's own
// session when l is nil.
func (u *upstream) dial(ctx, life context.Context, l *link) (conn, mcp.ServerCapabilities, error) {
	tr, kid, err := u.transport()
	if err != nil {
		return conn{}, mcp.ServerCapabilities{}, err
	}
	peer := peerHandlers{u: u, l: l}
	cli := client.NewClient(tr,
		client.WithProtocolVersion(mcp.LATEST_LEGACY_PROTOCOL_VERSION), // trap 1: no server/discover probe
		client.WithSamplingHandler(peer),
		client.WithElicitationHandler(peer),
		client.WithRootsHandler(peer),
	)
	c := conn{cli: cli, kid: kid}
	if err := cli.Start(life); err != nil {
		c.close()
		return conn{}, mcp.ServerCapabilities{}, fmt.Errorf("start %s transport: %w", u.spec.transportName(), err)
	}
	if err := kid.started(u.log); err != nil {
		c.close()
		return conn{}, mcp.ServerCapabilities{}, err
	}
	cli.OnNotification(func(n mcp.JSONRPCNotification) { u.hub.notification(u, l, n) })
	if l == nil {
		if lost, ok := tr.(interface{ SetConnectionLostHandler(func(error)) }); ok {
			lost.SetConnectionLostHandler(func(error) { u.poke() })
		}
	}
	init := mcp.InitializeRequest{}
	init.Params.ProtocolVersion = mcp.LATEST_LEGACY_PROTOCOL_VERSION
	init.Params.ClientInfo = mcp.Implementation{Name: "warden", Version: u.hub.version}
	res, err := cli.Initialize(ctx, init)
	if err != nil {
		c.close()
		return conn{}, mcp.ServerCapabilities{}, fmt.Errorf("initialize: %w", err)
	}
	return c, res.Capabilities, nil
}

// transport builds the upstream's transport; for stdio it also returns the
// child, whose process exists once the transport has started.
func (u *upstream) transport() (transport.Interface, *child, error) {
	s := u.spec
	// mcp-go's own messages ("listening to server forever") are noise at
	// info level; its warnings and errors still show.
	quiet := u.log.WithPrefix("mcp-go")
	quiet.SetLevel(max(u.log.GetLevel(), log.WarnLevel))
	slogger := slog.New(closedWrites{quiet})
	switch {
	case s.Command != "":
		stderr := &logWriter{log: u.log}
		kid := &child{}
		// mcp-go starts the process itself, calling this during Start.
		tr := transport.NewStdioWithOptions(s.Command, s.Env, s.Args,
			transport.WithCommandFunc(func(ctx context.Context, command string, env []string, args []string) (*exec.Cmd, error) {
				cmd := exec.Command(command, args...)
				cmd.Env = append(os.Environ(), env...)
				cmd.Dir = s.Dir
				// The child must not outlive warden, even when warden is killed.
				prepareChild(cmd)
				kid.cmd = cmd
				return cmd, nil
			}),
			transport.WithCommandStderrWriter(stderr),
			transport.WithCommandLogger(slogger),
		)
		return tr, kid, nil
	case s.SSE:
		tr, err := transport.NewSSE(s.URL, transport.WithHeaders(s.Headers), transport.WithHeaderFunc(tracing.Fields), transport.WithHTTPClient(u.http), transport.WithSSELogger(slogger))
		return tr, nil, err
	default:
		tr, err := transport.NewStreamableHTTP(s.URL,
			transport.WithHTTPHeaders(s.Headers),
			transport.WithHTTPHeaderFunc(tracing.Fields), // the call's trace context, when traced
			transport.WithHTTPBasicClient(u.http),
			transport.WithContinuousListening(), // list_changed and resources/updated arrive outside any call
			transport.WithHTTPLogger(slogger),
		)
		return tr, nil, err
	}
}

// refresh lists everything the upstream offers and republishes the
// catalog, unless ctx ends first: a closing hub publishes nothing more.
func (u *upstream) refresh(ctx context.Context) {
	cli, caps, err := u.client()
	if err != nil {
		return
	}
	o := u.list(ctx, cli, caps)
	if ctx.Err() != nil {
		return
	}
	u.mu.Lock()
	u.offer = o
	u.mu.Unlock()
	u.hub.catalogChanged()
}

// list asks one upstream session for everything it offers.
func (u *upstream) list(ctx context.Context, cli *client.Client, caps mcp.ServerCapabilities) offer {
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	var o offer
	if caps.Tools != nil {
		if list, err := u.listToolsRaw(ctx, cli); err != nil {
			u.log.Warn("tools/list failed", "err", u.redact(err))
		} else {
			o.tools = u.validTools(list)
		}
	}
	if caps.Resources != nil {
		if res, err := cli.ListResources(ctx, mcp.ListResourcesRequest{}); err != nil {
			u.log.Warn("resources/list failed", "err", u.redact(err))
		} else {
			o.resources = res.Resources
		}
		if res, err := cli.ListResourceTemplates(ctx, mcp.ListResourceTemplatesRequest{}); err != nil {
			u.log.Debug("resources/templates/list failed", "err", err)
		} else {
			o.templates = res.ResourceTemplates
		}
	}
	if caps.Prompts != nil {
		if res, err := cli.ListPrompts(ctx, mcp.ListPromptsRequest{}); err != nil {
			u.log.Warn("prompts/list failed", "err", u.redact(err))
		} else {
			o.prompts = res.Prompts
		}
	}
	return o
}

// validTools drops definitions that would break the front (trap 10): an
// upstream is untrusted input.
func (u *upstream) validTools(in []mcp.Tool) []mcp.Tool {
	out := in[:0:0]
	for i := range in {
		t := in[i]
		if t.Name == "" {
			u.log.Warn("dropping a tool with no name")
			continue
		}
		if err := mcp.ValidateParamHeaderAnnotations(&t); err != nil {
			u.log.Warn("dropping an invalid tool definition", "tool", t.Name, "err", err)
			continue
		}
		out = append(out, t)
	}
	return out
}

// watch returns when the connection is judged dead: a failed ping after a
// failed request, or a failed periodic ping. It also lists again what the
// upstream offers when the upstream says a list changed, so that the
// listing belongs to the connection and ends with it.
func (u *upstream) watch(ctx context.Context, cli *client.Client) error {
	tick := time.NewTicker(pingInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		case <-u.kick:
		case <-u.relist:
			u.refresh(ctx)
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, pingTimeout)
		err := cli.Ping(pctx)
		cancel()
		if err != nil {
			return fmt.Errorf("ping: %w", err)
		}
	}
}

// poke asks the watcher to check the connection now.
func (u *upstream) poke() { signal(u.kick) }

// listChanged asks the watcher to list what the upstream offers again;
// several changes before it gets to it make one listing.
func (u *upstream) listChanged() { signal(u.relist) }

// signal sends on a channel with a buffer of one, unless a send is
// already waiting there.
func signal(ch chan<- struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (u *upstream) setDown(err error) {
	err = u.redact(err)
	u.mu.Lock()
	u.cli, u.lastErr = nil, err
	u.signalChangeLocked()
	u.mu.Unlock()
}

// signalChangeLocked wakes whoever waits for cli to change. u.mu is held.
func (u *upstream) signalChangeLocked() {
	close(u.changed)
	u.changed = make(chan struct{})
}

// client returns the live client, or an error that says why there is none.
func (u *upstream) client() (*client.Client, mcp.ServerCapabilities, error) {
	u.mu.RLock()
	defer u.mu.RUnlock()
	if u.cli == nil {
		return nil, u.caps, fmt.Errorf("%w: %q is reconnecting (last error: %v)", errDown, u.spec.Name, u.lastErr)
	}
	return u.cli, u.caps, nil
}

func (u *upstream) snapshot() offer {
	u.mu.RLock()
	defer u.mu.RUnlock()
	return u.offer
}

// sleep waits d or until ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// logWriter turns a stdio child's stderr into debug log lines.
type logWriter struct{ log *log.Logger }

func (w *logWriter) Write(p []byte) (int, error) {
	w.log.Debug("stderr", "text", string(p))
	return len(p), nil
}

var _ io.Writer = (*logWriter)(nil)
