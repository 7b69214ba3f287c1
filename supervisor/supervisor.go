// Package supervisor is warden's core: the MCP front that agents talk to,
// their sessions, the decision on every tool call, its durable record, and
// the admin API. It reaches upstreams only through tools.Hub and disk only
// through store.Store.
package supervisor

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/charmbracelet/log"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/time/rate"

	"github.com/warden-dev/warden/notify"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/tools"
	"github.com/warden-dev/warden/workflows"
)

// Protocol versions served to agents, newest first. Pinned so that
// sessions have ids and hooks fire (trap 1).
var protocolVersions = []string{"2025-11-25", "2025-06-18", "2025-03-26"}

// Options configure a Supervisor. Hub, Store and Agents are required.
type Options struct {
	Hub    *tools.Hub
	Store  store.Store
	Agents []Agent
	Logger *log.Logger

	// MaxBodyBytes bounds a request body (413 beyond); default 1 MiB.
	MaxBodyBytes int64
	// IdleTTL ends sessions with no request for this long; default 30m.
	IdleTTL time.Duration
	// AllowedHosts are Host values accepted besides loopback ones ("*" for
	// any); AllowedOrigins likewise for Origin. DNS-rebinding protection.
	AllowedHosts   []string
	AllowedOrigins []string
	// Version is announced to agents.
	Version string
	// Policies decide each agent's calls, by agent name; SetPolicies
	// replaces them later. An agent without one has every visible call allowed.
	Policies map[string]*Policy
	// Escalation configures step-up approvals, webhooks, throttling and
	// revalidation.
	Escalation Escalation
	// Network names the trusted proxies and the geolocation databases.
	Network Network
	// Limits bound the sessions, session openings, pending approvals and
	// budgets of each agent.
	Limits Limits
	// KeysOnly names upstreams whose calls are not validated against the
	// tool's input schema (validate_args: keys_only); arguments whose keys
	// read two ways are refused whatever the upstream.
	KeysOnly []string
	// Observer is told of each call's verdict, upstream call, approval
	// and kill, for metrics; none when nil.
	Observer Observer
	// Tracer, when set, makes a span of each call and its steps and
	// passes the trace context on to upstreams; nil is tracing off.
	Tracer trace.TracerProvider
	// Advertise is the base URL (scheme://host:port) at which the other
	// replicas reach this one's MCP endpoint, when the Store is shared by
	// replicas (store/postgres WithReplica): they forward the requests of
	// the sessions this replica serves to it. Empty: no forwarding, and a
	// replica that gets a request for another's session takes it over.
	Advertise string
}

// Supervisor serves agents over MCP and supervises their tool calls.
type Supervisor struct {
	opts     Options
	hub      *tools.Hub
	store    store.Store
	log      *log.Logger
	agents   atomic.Pointer[agents] // replaced whole by a reload
	sessions *sessions
	mcp      *server.MCPServer
	http     *server.StreamableHTTPServer

	// announced receives the policies replicas announce (replicapolicy.go).
	announced atomic.Pointer[func(digest string)]

	syncMu   sync.Mutex // serialises catalog mirroring
	mirrored mirrorState
	policies atomic.Pointer[policies]
	// noPolicy is what an agent without a policy is decided by, one for
	// all its calls (read only), not one made per call.
	noPolicy Policy
	throttle atomic.Pointer[throttles]
	reloadMu sync.Mutex                        // one reload at a time
	admin    atomic.Pointer[[sha256.Size]byte] // the admin token's hash, which a reload may replace

	esc       Escalation
	links     *linkSigner // nil when links are not configured
	waiting   waiters
	lim       limiters
	suspended atomic.Pointer[map[string]store.AgentRecord]
	suspendMu sync.Mutex
	changed   atomic.Pointer[map[string]toolChange] // tools whose definition differs from its pin, by exposed name
	args      tools.ArgChecker                      // checks calls' arguments before they are decided
	stdio     atomic.Pointer[stdioServing]          // the stdio client, when ServeStdio runs
	closing   atomic.Bool
	bg        *background  // goroutines beside the requests; Close joins them
	authFails authFailures // refused tokens, recorded once per window
	limits    *limits
	agentRisk agentRisk  // the agent's part of its sessions' signals
	baselines *baselines // agents' behaviour baselines and their live sessions against them
	watchers  watchers   // in-process listeners to alerts (the console)

	tracer trace.Tracer              // nil when tracing is off
	fwd    atomic.Pointer[forwarder] // nil unless replicas route requests to one another
	// resuming serialises the resumption of one session on this replica,
	// routing its routing decisions (route.go).
	resuming, routing keyLocks
}

// New builds a Supervisor; Start connects its upstreams.
func New(opts Options) (*Supervisor, error) {
	if opts.Store == nil || opts.Hub == nil {
		return nil, errors.New("supervisor: a store and a hub are required")
	}
	if opts.Logger == nil {
		opts.Logger = log.New(discard{})
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 1 << 20
	}
	if opts.IdleTTL <= 0 {
		opts.IdleTTL = 30 * time.Minute
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	ag, err := newAgents(opts.Agents)
	if err != nil {
		return nil, fmt.Errorf("supervisor: %w", err)
	}
	s := &Supervisor{opts: opts, hub: opts.Hub, store: opts.Store, log: opts.Logger, sessions: newSessions(), bg: newBackground(),
		limits: newLimits(opts.Limits), baselines: newBaselines()}
	s.sessions.onEnd = func(sess *session) {
		if !s.closing.Load() {
			s.endSession(context.Background(), sess, store.StateEnded, "closed by the client or idle")
		}
	}
	initial := policies(maps.Clone(opts.Policies))
	s.policies.Store(&initial)
	if opts.Tracer != nil {
		s.tracer = opts.Tracer.Tracer(tracerName)
	}
	s.esc = opts.Escalation
	s.esc.defaults()
	s.agents.Store(ag)
	s.throttle.Store(throttlesOf(s.esc))
	s.waiting.m = map[string]chan store.Approval{}
	s.lim.byAgent = map[string]*rate.Limiter{}
	none := map[string]store.AgentRecord{}
	s.suspended.Store(&none)
	if len(s.esc.LinkSecret) > 0 && s.esc.PublicURL != "" {
		if s.links, err = newLinkSigner(s.esc.LinkSecret); err != nil {
			return nil, fmt.Errorf("supervisor: decision links: %w", err)
		}
	}

	hooks := &server.Hooks{}
	hooks.AddAfterInitialize(s.afterInitialize)
	hooks.AddOnUnregisterSession(s.onUnregister)
	hooks.AddOnError(s.unknownTool)
	hooks.AddAfterSetLevel(func(ctx context.Context, _ any, req *mcp.SetLevelRequest, _ *mcp.EmptyResult) {
		if sess := s.sessionFrom(ctx); sess != nil {
			// Tracked like a call, so that the session's end waits for it.
			_ = sess.upstreamRequest(ctx, func(ctx context.Context) error {
				s.hub.SetLevel(ctx, sess.who(), req.Params.Level)
				return nil
			})
		}
	})
	hooks.AddOnRequestInitialization(s.refuseSubscribe)
	hooks.AddAfterSubscribe(s.afterSubscribe)
	hooks.AddAfterUnsubscribe(s.afterUnsubscribe)
	hooks.AddAfterListTools(s.filterTools)
	hooks.AddAfterListResources(s.filterResources)
	hooks.AddAfterListPrompts(s.filterPrompts)
	hooks.AddAfterListResourceTemplates(s.filterTemplates)

	s.mcp = server.NewMCPServer("warden", opts.Version,
		server.WithToolCapabilities(true),
		server.WithResourceCapabilities(true, true),
		server.WithPromptCapabilities(true),
		server.WithLogging(),
		server.WithCompletions(),
		server.WithElicitation(),
		server.WithRoots(),
		server.WithHooks(hooks),
		server.WithPromptCompletionProvider(completer{s}),
		server.WithResourceCompletionProvider(completer{s}),
		server.WithRecovery(),
		server.WithResourceRecovery(),
	)
	s.mcp.EnableSampling()
	s.mcp.AddNotificationHandler(string(mcp.MethodNotificationRootsListChanged), s.rootsChanged)
	// mcp-go's own info messages are noise in warden's log; its warnings stay.
	quiet := opts.Logger.WithPrefix("mcp-go")
	quiet.SetLevel(max(opts.Logger.GetLevel(), log.WarnLevel))
	s.http = server.NewStreamableHTTPServer(s.mcp,
		server.WithStreamableHTTPLogger(slog.New(quiet)),
		server.WithEndpointPath("/mcp"),
		server.WithStreamableHTTPProtocolVersions(protocolVersions...),
		server.WithSessionIdManager(s.sessions),
		server.WithSessionIdleTTL(opts.IdleTTL),
		server.WithEventStore(server.NewInMemoryEventStore()), // trap 2
		server.WithDisableLocalhostProtection(true),           // the front checks Host and Origin itself, with the configured names
	)
	return s, nil
}

// Handler serves the MCP endpoint at /mcp.
func (s *Supervisor) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/mcp", s.front(s.http))
	return mux
}

// Start closes the record of sessions that a previous run left live, then
// connects the upstreams, relaying what they send to agents and mirroring
// their catalog. It returns once each upstream has made its first attempt
// to connect, or ctx ends. An error means the history could not be read or
// written: warden must not serve then.
func (s *Supervisor) Start(ctx context.Context) error {
	if err := s.startOwnHistory(ctx); err != nil {
		return err
	}
	if err := s.loadSuspensions(ctx); err != nil {
		return err
	}
	if err := s.loadBudgets(ctx); err != nil {
		return err
	}
	if err := s.startRouting(ctx); err != nil {
		return err
	}
	s.watchReplicas()
	s.hub.Start(ctx, peer{s}, s.mirror)
	return nil
}

// startOwnHistory closes what the previous run left open: its calls in
// flight and its held approvals. A replica among several does neither:
// what is open may be another replica's, live.
func (s *Supervisor) startOwnHistory(ctx context.Context) error {
	if s.replicated() {
		return nil
	}
	if err := s.recoverInterrupted(ctx); err != nil {
		return err
	}
	// A call held when warden stopped went with its connection.
	if n, err := s.store.ExpireApprovals(ctx, time.Now(), true); err != nil {
		return fmt.Errorf("expire approvals left pending: %w", err)
	} else if n > 0 {
		s.log.Warn("approvals left pending by the last run are expired", "count", n)
	}
	return nil
}

// Close stops serving; calling it again does nothing. Calls held for an
// approver are released first (their approvals expire, since nobody can
// decide them in this run), so a shutdown does not wait on humans; the
// Supervisor's background work is ended and waited for. Live
// sessions stay active on record: their agents can carry on with them
// when warden is back (see resume), and those that do not come back
// within the idle TTL are expired then.
func (s *Supervisor) Close(ctx context.Context) error {
	// mcp-go's shutdown terminates every session; they are not ending.
	if !s.closing.CompareAndSwap(false, true) {
		return nil
	}
	s.releaseHeld(ctx)
	for _, sess := range s.sessions.all() {
		if sess.key == stdioSessionKey {
			continue
		}
		_, err := s.store.Append(ctx, sess.id, store.Event{Kind: store.KindSignal, Verdict: "allow",
			Reasons: []string{"warden shut down; the session can resume when it is back"}})
		if err != nil {
			s.log.Error("cannot record shutdown", "session", sess.id, "err", err)
		}
	}
	s.bg.close()
	return s.http.Shutdown(ctx)
}

// afterInitialize records a new session, durably, before the agent can use it.
func (s *Supervisor) afterInitialize(ctx context.Context, _ any, req *mcp.InitializeRequest, res *mcp.InitializeResult) {
	cs := server.ClientSessionFromContext(ctx)
	id, ok := identityFrom(ctx)
	if cs == nil || !ok {
		return
	}
	sess := &session{key: cs.SessionID(), id: cs.SessionID(), agent: id.agent, remote: id.remote, userAgent: id.userAgent,
		started: time.Now().UTC(), listening: make(chan struct{}),
		client: strings.TrimSpace(req.Params.ClientInfo.Name + " " + req.Params.ClientInfo.Version), cs: cs}
	sess.limiter.Store(newLimiter(s.sessionRate(id.agent.Name)))
	if sess.key == "" || sess.key == stdioSessionKey {
		sess.id = newID()
		if prev := s.sessions.get(stdioSessionKey); prev != nil {
			// A client that initializes again starts a new session.
			s.endSession(context.WithoutCancel(ctx), prev, store.StateEnded, "the client initialized again")
		}
	}
	sess.state = s.policyFor(sess.agent.Name).Workflow.Start(workflows.SessionInfo{
		ID: sess.id, Agent: sess.agent.Name, RemoteAddr: sess.remote, Started: sess.started, Intent: id.intent,
	})
	sess.prov = newSessionProvenance(id.intent, s.policyFor(sess.agent.Name).Workflow.ConfigValues())
	state, err := encodeState(sess.state)
	if err != nil {
		s.log.Error("cannot encode session state; its calls will be refused", "session", sess.id, "err", err)
		return
	}
	rec := store.Session{Data: state,
		ID: sess.id, Agent: sess.agent.Name,
		ClientName: req.Params.ClientInfo.Name, ClientVersion: req.Params.ClientInfo.Version,
		RemoteAddr: sess.remote, UserAgent: sess.userAgent, ProtocolVersion: res.ProtocolVersion,
		Started: sess.started, LastSeen: sess.started, State: store.StateActive,
	}
	wctx := context.WithoutCancel(ctx)
	// The agent's latest session before this one: is its token waking up?
	var prev *store.Session
	if last, err := s.store.Sessions(wctx, store.Filter{Agent: sess.agent.Name, Limit: 1}); err == nil && len(last) == 1 {
		prev = &last[0]
	}
	if err := s.store.CreateSession(wctx, rec); err != nil {
		// Not registered: every later call in this session is refused.
		s.log.Error("cannot record new session; its calls will be refused", "session", sess.id, "agent", sess.agent.Name, "err", err)
		return
	}
	start := map[string]any{"client": req.Params.ClientInfo, "protocol": res.ProtocolVersion}
	if id.intent != nil {
		start["intent"] = id.intent // on the chain, besides in the state it commits to
	}
	data, _ := json.Marshal(start)
	// The start commits the chain to the session's first state.
	if _, err := s.store.AppendWithData(wctx, sess.id, store.Event{Kind: store.KindSessionStart, Data: data}, state); err != nil {
		s.log.Error("cannot record session start; its calls will be refused", "session", sess.id, "err", err)
		return
	}
	s.sessions.start(sess)
	if s.reconcile(wctx, sess) {
		return // a reload replaced the agent's token while the session opened
	}
	s.startSignals(wctx, sess, prev)
	s.inheritSignals(wctx, sess)
	s.watchers.send(notify.Message{Type: WatchSessionStarted, Session: sess.id, Agent: sess.agent.Name})
	s.log.Info("session started", "session", sess.id, "agent", sess.agent.Name, "client", req.Params.ClientInfo.Name, "remote", sess.remote)
}

// onUnregister records the end of a session that the client closed or
// that expired idle.
func (s *Supervisor) onUnregister(ctx context.Context, cs server.ClientSession) {
	sess := s.sessions.get(cs.SessionID())
	if sess == nil || s.closing.Load() {
		return
	}
	if held, err := s.heldHere(ctx, sess); held == nil || err != nil {
		return // another replica serves it now: not this copy's to end
	}
	s.endSession(context.WithoutCancel(ctx), sess, store.StateEnded, "closed by the client or idle")
}

// endSession moves a live session to a final state and records it.
func (s *Supervisor) endSession(ctx context.Context, sess *session, state, reason string) {
	if s.sessions.end(sess.key) == nil {
		return // already ended
	}
	// No call of an ended session goes ahead: held ones are denied, those
	// in flight cancelled, before the end is recorded.
	st, _ := sess.stop(false)
	s.release(ctx, sess, st, "warden: session ended", fmt.Errorf("%w: the session ended: %s", errCancelledByWarden, reason))
	// Its upstream sessions close before the end is recorded, so that
	// their closing is on its chain.
	s.hub.Release(sess.who(), "the agent session ended: "+reason)
	if _, err := s.store.Append(ctx, sess.id, store.Event{Kind: "session_end", Reasons: []string{reason}}); err != nil {
		s.log.Error("cannot record session end", "session", sess.id, "err", err)
	}
	err := s.store.UpdateSession(ctx, sess.id, func(r *store.Session) error {
		r.State, r.Reason, r.LastSeen = state, reason, time.Now().UTC()
		return nil
	})
	if err != nil {
		s.log.Error("cannot update session", "session", sess.id, "err", err)
	}
	s.baselineEnd(ctx, sess, state)
	s.watchers.send(notify.Message{Type: WatchSessionEnded, Session: sess.id, Agent: sess.agent.Name})
	s.log.Info("session ended", "session", sess.id, "agent", sess.agent.Name, "state", state, "reason", reason)
}

// sessionFrom finds the live session of a request.
func (s *Supervisor) sessionFrom(ctx context.Context) *session {
	cs := server.ClientSessionFromContext(ctx)
	if cs == nil {
		return nil
	}
	sess := s.sessions.get(cs.SessionID())
	if sess != nil {
		sess.mu.Lock()
		if sess.cs == nil {
			sess.cs = cs // upstreams' requests outside any call reach the session through it
		}
		sess.mu.Unlock()
	}
	return sess
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
