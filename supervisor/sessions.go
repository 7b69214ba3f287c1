package supervisor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mark3labs/mcp-go/server"
	"golang.org/x/time/rate"

	"github.com/warden-dev/warden/workflows"
)

// errUnknownSession makes mcp-go answer 404 for an id warden never issued.
var errUnknownSession = errors.New("unknown session id")

// How long an ended id is remembered so that its reuse gets "terminated".
const terminatedTTL = 24 * time.Hour

// session is one live MCP session of one agent.
type session struct {
	key       string // the transport's session id (mcp-go's)
	id        string // the history id; equal to key over HTTP
	agent     *Agent
	reloaded  atomic.Pointer[Agent] // the agent as a reload redefined it; nil until then (see current)
	remote    string
	userAgent string
	started   time.Time

	// decide serialises the decisions of one session, with the durable
	// write of each, so that its state moves in the order of its history.
	decideMu sync.Mutex

	mu       sync.Mutex
	state    workflows.State // the workflow position; under decideMu and mu
	killed   bool
	ended    bool            // closed by the client, idle, or stdio closed: no more calls
	subs     map[string]bool // resource URIs the agent subscribed to
	inflight map[*inflight]struct{}
	idle     chan struct{} // closed when the last call in flight is forgotten; made by awaitIdle, nil when none waits

	client  string                       // the client's name and version, for approvers
	limiter atomic.Pointer[rate.Limiter] // the session's token bucket; nil for none. A reload retunes it
	// approved are the steps (or tools) an approver allowed for the rest
	// of the session; revalidate, when set, is why every call steps up
	// (the session changed hands). Both under mu.
	approved   map[string]sessionApproval
	revalidate string
	// changedHands is the first change-of-hands signal seen on the session
	// (whatever the response to it was): the agent's client is then no
	// longer trusted to approve its own calls. Under mu.
	changedHands string
	held         map[string]bool // approvals this session's calls wait on
	// seenIP, seenUA and seenFP are where the last request came from: its
	// address, user agent and TLS fingerprint (under mu).
	seenIP, seenUA, seenFP string

	// listening is closed once the agent's standing GET stream is attached:
	// mcp-go sends sampling and roots requests only there, and loses one
	// queued before the stream attaches.
	listening     chan struct{}
	listeningOnce sync.Once

	prov *sessionProvenance   // where the values it could reuse came from
	cs   server.ClientSession // mcp-go's session, from the first request seen (under mu)
	view *sessionView         // set while its own upstream sessions offer other than the catalog (under the supervisor's syncMu)
	// ownPins are the definitions of the tools only its own upstream
	// sessions offer, as it first saw them: upstream/name → hash. They
	// pin nothing for other sessions. Under the supervisor's syncMu.
	ownPins map[string]string
}

// awaitIdle waits until no call of the session is in flight, ctx ends or
// timeout passes.
func (s *session) awaitIdle(ctx context.Context, timeout time.Duration) {
	// The channel is made by the first waiter, not by every call that
	// makes the session busy: waiting is rare, calls are not.
	s.mu.Lock()
	if len(s.inflight) == 0 {
		s.mu.Unlock()
		return
	}
	if s.idle == nil {
		s.idle = make(chan struct{})
	}
	idle := s.idle
	s.mu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-idle:
	case <-ctx.Done():
	case <-t.C:
	}
}

// stopping is what a stopping session must let go: its calls in flight
// and the approvals its calls wait on.
type stopping struct {
	calls []*inflight
	held  []string
}

// stop marks the session killed or ended and returns what it must let go.
// It reports whether the session was already stopped.
func (s *session) stop(kill bool) (st stopping, already bool) {
	s.decideMu.Lock() // no decision is half made while the session stops
	defer s.decideMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	already = s.killed || (s.ended && !kill)
	if kill {
		s.killed = true
	} else {
		s.ended = true
	}
	for f := range s.inflight {
		st.calls = append(st.calls, f)
	}
	for id := range s.held {
		st.held = append(st.held, id)
	}
	return st, already
}

// holding records (on) or forgets (off) an approval a call waits on.
func (s *session) holding(id string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !on {
		delete(s.held, id)
		return
	}
	if s.held == nil {
		s.held = map[string]bool{}
	}
	s.held[id] = true
}

// attached records that the session's GET stream is up.
func (s *session) attached() {
	s.listeningOnce.Do(func() { close(s.listening) })
}

// awaitListening waits until the session's GET stream is up, ctx ends or
// timeout passes; it reports whether the stream is up.
func (s *session) awaitListening(ctx context.Context, timeout time.Duration) bool {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-s.listening:
		return true
	case <-ctx.Done():
	case <-t.C:
	}
	return false
}

// inflight is one call of the session being forwarded; cancel's cause
// says why warden cancelled it.
type inflight struct{ cancel context.CancelCauseFunc }

// track registers a forwarded call so that a kill can cancel it; untrack
// forgets it. (A method rather than a closure to call: a call in flight
// costs one allocation less.)
func (s *session) track(cancel context.CancelCauseFunc) (f *inflight, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.killed || s.ended {
		return nil, false
	}
	if s.inflight == nil {
		s.inflight = map[*inflight]struct{}{}
	}
	f = &inflight{cancel: cancel}
	s.inflight[f] = struct{}{}
	return f, true
}

// untrack forgets a call that track registered, and tells a wait for the
// session's idleness that it came when it was the last.
func (s *session) untrack(f *inflight) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.inflight, f)
	if len(s.inflight) == 0 && s.idle != nil {
		close(s.idle)
		s.idle = nil
	}
}

// subscribe records (on) or drops (off) a resource subscription.
func (s *session) subscribe(uri string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !on {
		delete(s.subs, uri)
		return
	}
	if s.subs == nil {
		s.subs = map[string]bool{}
	}
	s.subs[uri] = true
}

func (s *session) subscribed(uri string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.subs[uri]
}

// sessions is the registry of live sessions and warden's
// server.SessionIdManager: ids are random, and only the ids of sessions
// that completed initialize and were recorded are valid (trap 4); ended ids
// stay ended. An id that mcp-go issued for an initialize that failed is
// never valid: the client only learns an id from a successful answer.
type sessions struct {
	mu         sync.RWMutex
	live       map[string]*session
	terminated map[string]time.Time
	pruned     time.Time      // when terminated was last pruned
	onEnd      func(*session) // records the end of a session still live at Terminate
}

func newSessions() *sessions {
	return &sessions{
		live:       map[string]*session{},
		terminated: map[string]time.Time{},
	}
}

// newID returns 128 random bits, hex encoded.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(b[:])
}

// Generate issues a session id for an initialize request.
func (s *sessions) Generate() string {
	now := time.Now()
	s.mu.Lock()
	if now.Sub(s.pruned) > time.Minute {
		s.prune(now)
		s.pruned = now
	}
	s.mu.Unlock()
	return newID()
}

// Validate accepts only the ids of live, recorded sessions.
func (s *sessions) Validate(id string) (isTerminated bool, err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if _, ok := s.live[id]; ok {
		return false, nil
	}
	if _, ok := s.terminated[id]; ok {
		return true, nil
	}
	return false, errUnknownSession
}

// Terminate ends an id: on DELETE from the client, on idle expiry, or on
// kill. A session still live is ended on record (onEnd), for sessions
// that mcp-go never registered (resumed ones) fire no unregister hook.
func (s *sessions) Terminate(id string) (isNotAllowed bool, err error) {
	s.mu.Lock()
	sess := s.live[id]
	s.terminated[id] = time.Now()
	s.mu.Unlock()
	if sess != nil && s.onEnd != nil {
		s.onEnd(sess)
	}
	return false, nil
}

// revive puts back a session from history, unless one with its key is
// live already or the key was ended in this run; it reports whether it did.
func (s *sessions) revive(sess *session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, live := s.live[sess.key]; live {
		return false
	}
	if _, ended := s.terminated[sess.key]; ended {
		return false
	}
	s.live[sess.key] = sess
	return true
}

// start records a session that completed initialize.
func (s *sessions) start(sess *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.live[sess.key] = sess
}

// end forgets a live session and returns it, or nil when it was not live.
func (s *sessions) end(key string) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.live[key]
	delete(s.live, key)
	if sess != nil {
		s.terminated[key] = time.Now()
	}
	return sess
}

func (s *sessions) get(key string) *session {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.live[key]
}

// all returns the live sessions.
func (s *sessions) all() []*session {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*session, 0, len(s.live))
	for _, sess := range s.live {
		out = append(out, sess)
	}
	return out
}

// prune forgets long-ended ids; the caller holds mu.
func (s *sessions) prune(now time.Time) {
	for id, t := range s.terminated {
		if now.Sub(t) > terminatedTTL {
			delete(s.terminated, id)
		}
	}
}

// identity is what the front learned about a request, carried in its context.
type identity struct {
	agent     *Agent
	remote    string
	userAgent string
	intent    *workflows.Intent // declared by the initialize this request is, if any
}

type identityKey struct{}

func withIdentity(ctx context.Context, id identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

func identityFrom(ctx context.Context) (identity, bool) {
	id, ok := ctx.Value(identityKey{}).(identity)
	return id, ok && id.agent != nil
}
