package tools

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/charmbracelet/log"
	"github.com/mark3labs/mcp-go/mcp"
)

// Peer is the agent side of warden, as upstreams need it: where their
// notifications and their requests towards the client go. Each names the
// agent session (by history id) it is for; ctx is the agent request's
// when it belongs to one, and carries its session then.
type Peer interface {
	// Notify sends a notification to the agent session.
	Notify(ctx context.Context, session, method string, params map[string]any) error
	// CreateMessage, Elicit and ListRoots relay an upstream's request to the
	// agent session and return its answer.
	CreateMessage(ctx context.Context, session string, req mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error)
	Elicit(ctx context.Context, session string, req mcp.ElicitationRequest) (*mcp.ElicitationResult, error)
	ListRoots(ctx context.Context, session string, req mcp.ListRootsRequest) (*mcp.ListRootsResult, error)
	// ResourceUpdated tells the sessions subscribed to uri that it
	// changed: those among sessions, or any when sessions is nil.
	ResourceUpdated(sessions []string, uri string)
	// SessionCatalog hands over what one agent session sees now, when its
	// own upstream sessions offer other than the catalog: nil when it sees
	// the catalog again.
	SessionCatalog(session string, c *Catalog)
	// UpstreamSession records that an upstream session serving the agent
	// session was opened or closed.
	UpstreamSession(session string, ev UpstreamEvent)
}

// Options configure a Hub.
type Options struct {
	Logger *log.Logger
	// Version is what warden announces to upstreams; default "dev".
	Version string
	// Names keeps which tool holds each exposed name across restarts; nil
	// keeps them for the life of the process only.
	Names NameStore
}

// Hub holds every upstream connection and the merged catalog.
type Hub struct {
	set     atomic.Pointer[upstreamSet] // replaced whole by SetUpstreams
	setMu   sync.Mutex                  // one SetUpstreams at a time
	peer    Peer
	log     *log.Logger
	version string
	onCat   func(*Catalog)

	catMu sync.Mutex // serialises catalog rebuilds and OnCatalog calls
	cat   atomic.Pointer[Catalog]
	names NameStore
	// claiming is set once every upstream made its first attempt: names
	// are pinned only from then on, so which upstream connected first
	// does not decide who holds a name.
	claiming atomic.Bool

	// views are what agent sessions see when their own upstream sessions
	// offer other than the catalog: session id → *Catalog, written under
	// catMu.
	views sync.Map

	tokens  atomic.Uint64 // upstream progress tokens
	calls   sync.Map      // upstream progress token → *call
	levels  sync.Map      // agent session id → mcp.LoggingLevel it asked for
	runCtx  context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	started atomic.Bool
}

// NewHub prepares the upstreams; Start connects them.
func NewHub(specs []Spec, opts Options) (*Hub, error) {
	if opts.Logger == nil {
		opts.Logger = log.New(nopWriter{})
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	h := &Hub{log: opts.Logger, version: opts.Version, names: opts.Names}
	h.runCtx, h.cancel = context.WithCancel(context.Background())
	if h.names == nil {
		h.names = &memNames{m: map[string]string{}}
	}
	if err := checkSpecs(specs); err != nil {
		return nil, err
	}
	set := &upstreamSet{byName: map[string]*upstream{}}
	for _, s := range specs {
		set.add(newUpstream(s, h))
	}
	h.set.Store(set)
	c, _ := buildCatalog(context.Background(), nil, h.names, h.log)
	h.cat.Store(c)
	return h, nil
}

// Start connects every upstream in the background and keeps them connected
// until Close. What upstreams send towards agents goes to peer; every new
// catalog (an upstream connected, disconnected, or said its lists changed)
// is handed to onCatalog, one call at a time. Start returns when each
// upstream has made its first attempt (connected or failed) or ctx ends, so
// that the first catalog is complete.
func (h *Hub) Start(ctx context.Context, peer Peer, onCatalog func(*Catalog)) {
	if !h.started.CompareAndSwap(false, true) {
		return
	}
	h.peer, h.onCat = peer, onCatalog
	runCtx := h.runCtx
	h.setMu.Lock() // the upstreams started are those in the set
	defer h.setMu.Unlock()
	var first sync.WaitGroup
	for _, u := range h.upstreams().list {
		first.Add(1)
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			u.run(u.ctx, first.Done)
		}()
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		h.reapIdle(runCtx)
	}()
	done := make(chan struct{})
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		first.Wait() // every run calls its ready before it returns
		h.startClaiming()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// Close disconnects every upstream (stopping stdio children) and waits for
// every goroutine the hub started, listings included: once it returns, no
// catalog is published any more.
func (h *Hub) Close() error {
	h.cancel()
	h.setMu.Lock() // no SetUpstreams starts an upstream after this
	ups := h.upstreams().list
	h.setMu.Unlock()
	for _, u := range ups {
		u.closeAll()
	}
	h.wg.Wait()
	return nil
}

// Catalog returns the current catalog.
func (h *Hub) Catalog() *Catalog { return h.cat.Load() }

// Status reports, for each upstream in configuration order, whether it is
// connected and, if not, why.
func (h *Hub) Status() []UpstreamStatus {
	ups := h.upstreams().list
	out := make([]UpstreamStatus, 0, len(ups))
	for _, u := range ups {
		_, _, err := u.client()
		st := UpstreamStatus{Name: u.spec.Name, Transport: u.spec.transportName(), Connected: err == nil, Sharing: u.spec.sharing(),
			Restarts: u.lost.Load()}
		u.mu.RLock()
		st.Sessions, st.Spares = len(u.links), len(u.spare)
		u.mu.RUnlock()
		if err != nil {
			st.Error = err.Error()
		}
		out = append(out, st)
	}
	return out
}

// UpstreamStatus is one upstream's health.
type UpstreamStatus struct {
	Name      string `json:"name"`
	Transport string `json:"transport"`
	Connected bool   `json:"connected"`
	Error     string `json:"error,omitempty"`
	// Sharing is how agent sessions share upstream sessions; Sessions
	// counts the agents' upstream sessions open, Spares those opened ahead.
	Sharing  Sharing `json:"sharing"`
	Sessions int     `json:"sessions"`
	Spares   int     `json:"spares"`
	// Restarts counts warden's own connection lost after it was up, and
	// so restarted (reconnected); agents' own upstream sessions are not
	// counted.
	Restarts int64 `json:"restarts"`
}

func (h *Hub) catalogChanged() {
	h.catMu.Lock()
	defer h.catMu.Unlock()
	h.rebuild()
}

// startClaiming pins the names of the catalog from now on.
func (h *Hub) startClaiming() {
	h.catMu.Lock()
	defer h.catMu.Unlock()
	h.claiming.Store(true)
	h.rebuild()
}

// rebuild publishes a new catalog and pins the names it gave out that
// nobody held. Called with catMu held.
func (h *Hub) rebuild() {
	ctx := context.Background()
	c, claims := buildCatalog(ctx, sources(h.upstreams().list), h.names, h.log)
	if h.claiming.Load() {
		for name, holder := range claims {
			// On failure the name is pinned on a later rebuild; until then
			// it is held in this catalog only.
			if _, err := h.names.Pin(ctx, nameKey(name), holder); err != nil {
				h.log.Error("cannot pin a tool name", "name", name, "tool", holder, "err", err)
			}
		}
	}
	h.cat.Store(c)
	if h.onCat != nil {
		h.onCat(c)
	}
	var ids []string
	h.views.Range(func(k, _ any) bool {
		ids = append(ids, k.(string))
		return true
	})
	h.rebuildViews(ids)
}

// AcceptName pins an exposed tool name to the tool that holds it now, so
// that a name that moved to another upstream's tool is that tool's from
// then on, and publishes the catalog again.
func (h *Hub) AcceptName(ctx context.Context, exposed string) error {
	h.catMu.Lock()
	defer h.catMu.Unlock()
	t, ok := h.cat.Load().Tool(exposed)
	if !ok {
		return fmt.Errorf("accept tool name %q: no such tool", exposed)
	}
	if t.MovedFrom == "" {
		return nil
	}
	if _, err := h.names.Pin(ctx, nameKey(exposed), holderOf(t.Upstream, t.Name)); err != nil {
		return fmt.Errorf("accept tool name %q: %w", exposed, err)
	}
	h.rebuild()
	return nil
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }
