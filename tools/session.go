package tools

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
)

// Session is the agent session a request is made for. Upstreams that are
// not Shared serve it on an upstream session of its own (PerSession) or of
// its agent (PerAgent).
type Session struct {
	// ID is the agent session's history id.
	ID string
	// Agent names its agent.
	Agent string
}

// UpstreamEvent is warden opening or closing the upstream session that
// serves an agent session.
type UpstreamEvent struct {
	Upstream string
	// Action is "opened", "reopened" (a new upstream session replaces one
	// whose state is gone) or "closed".
	Action string
	Reason string
	// Sharing is how the upstream session is shared.
	Sharing Sharing
}

// ErrCapacity is wrapped by the error for a request that would open an
// upstream session beyond the upstream's MaxSessions.
var ErrCapacity = errors.New("upstream is at its cap of sessions")

// link is one upstream session opened for agents: for one agent session
// (PerSession), or for the sessions of one agent (PerAgent). A spare is a
// link opened ahead of need, with no owner yet.
type link struct {
	u   *upstream
	key string // the owner: an agent session id or an agent name; "" while spare
	// replaces says why an earlier upstream session of the same owner is
	// gone, when this one replaces it: the upstream's state for the owner
	// started again.
	replaces string

	ready chan struct{} // closed once the session is open or failed to
	err   error         // why it did not open; set before ready closes
	conn  conn
	caps  mcp.ServerCapabilities

	ctx    context.Context // ends when the link closes: bounds its listings
	cancel context.CancelFunc

	mu       sync.Mutex
	sessions map[string]time.Time // agent sessions served → their last request
	inflight map[*call]struct{}
	lastUse  time.Time
	offer    *offer // its own listing, once it said a list changed; nil: the upstream's
	relist   bool   // a listing is running; another change lists again after it
	again    bool
	closed   bool

	// told are the agent sessions told that this upstream session serves
	// them. Its closing is told to them only, and nobody is told of its
	// opening once it closed, so that no record says it closed before it
	// opened. Under tellMu, which is held while telling (the peer records,
	// and calls nothing of the hub).
	tellMu sync.Mutex
	told   map[string]bool
}

func (u *upstream) newLink(key string) *link {
	ctx, cancel := context.WithCancel(u.hub.runCtx)
	return &link{u: u, key: key, ready: make(chan struct{}), ctx: ctx, cancel: cancel,
		sessions: map[string]time.Time{}, inflight: map[*call]struct{}{}, lastUse: time.Now()}
}

// ownerKey is whose upstream session serves who.
func (u *upstream) ownerKey(who Session) string {
	if u.spec.sharing() == PerAgent {
		return who.Agent
	}
	return who.ID
}

// linkFor returns the upstream session that serves who, opening one (or
// taking a spare) if it has none. Concurrent requests of one owner share
// one opening.
func (u *upstream) linkFor(ctx context.Context, who Session) (*link, error) {
	if who.ID == "" {
		return nil, fmt.Errorf("upstream %q: a request with no agent session: %w", u.spec.Name, errNoSession)
	}
	key := u.ownerKey(who)
	now := time.Now()
	u.mu.Lock()
	// A request given up opens nothing and joins nothing: when its agent
	// session ends, it is cancelled before Release, so checking under mu
	// means Release either sees the session here or it never gets in.
	if err := ctx.Err(); err != nil {
		u.mu.Unlock()
		return nil, err
	}
	l := u.links[key]
	fresh, spare := false, false
	if l == nil {
		if u.hub.runCtx.Err() != nil {
			u.mu.Unlock()
			return nil, fmt.Errorf("%w: %q: warden is stopping", errDown, u.spec.Name)
		}
		if n := len(u.spare); n > 0 {
			l = u.spare[n-1]
			u.spare = u.spare[:n-1]
			l.key = key
			spare = true
		} else {
			if open := len(u.links) + len(u.spare) + u.filling; open >= u.spec.maxSessions() {
				u.mu.Unlock()
				return nil, fmt.Errorf("%w: %q has %d upstream sessions open, its max_sessions; try again when an agent session ends", ErrCapacity, u.spec.Name, open)
			}
			l = u.newLink(key)
			fresh = true
		}
		l.replaces = u.gone[key]
		delete(u.gone, key)
		u.links[key] = l
	}
	l.mu.Lock()
	_, known := l.sessions[who.ID]
	l.sessions[who.ID] = now
	l.lastUse = now
	l.mu.Unlock()
	u.mu.Unlock()

	switch {
	case fresh:
		u.open(l, who)
	case spare:
		u.adopt(l, who)
	case !known:
		<-l.ready
		if l.err == nil {
			u.opened(l, who) // one more session of the agent on its upstream session
			u.shareView(l, who)
		}
	}
	select {
	case <-l.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if l.err != nil {
		return nil, l.err
	}
	return l, nil
}

// open connects a new link for who (its first session), records it, and
// makes it ready.
func (u *upstream) open(l *link, who Session) {
	ctx, cancel := context.WithTimeout(l.ctx, connectTimeout)
	defer cancel()
	c, caps, err := u.dial(ctx, l.ctx, l)
	if err != nil {
		err = fmt.Errorf("%w: %q: cannot open an upstream session: %v", errDown, u.spec.Name, u.redact(err))
		u.mu.Lock()
		if u.links[l.key] == l {
			delete(u.links, l.key)
			if l.replaces != "" {
				u.gone[l.key] = l.replaces // the next one still replaces it
			}
		}
		u.mu.Unlock()
		l.cancel()
		l.err = err
		close(l.ready)
		return
	}
	l.conn, l.caps = c, caps
	l.mu.Lock()
	l.lastUse = time.Now() // idle from now, not from a request that waited for it
	l.mu.Unlock()
	close(l.ready)
	if lvl, ok := u.hub.levels.Load(who.ID); ok && caps.Logging != nil {
		u.setLevel(l, lvl.(mcp.LoggingLevel))
	}
	u.opened(l, who)
	u.fillSpares()
}

// adopt gives who a spare, which was open before it had an owner: its
// roots were nobody's, and the upstream is told they changed.
func (u *upstream) adopt(l *link, who Session) {
	ctx, cancel := context.WithTimeout(l.ctx, pingTimeout)
	if err := l.conn.cli.RootListChanges(ctx); err != nil {
		u.log.Debug("roots list_changed not delivered", "err", u.redact(err))
	}
	cancel()
	if lvl, ok := u.hub.levels.Load(who.ID); ok && l.caps.Logging != nil {
		u.setLevel(l, lvl.(mcp.LoggingLevel))
	}
	u.opened(l, who)
	u.shareView(l, who)
	u.fillSpares()
}

// shareView gives who the view of what l offers, when l has an offer of
// its own: it said its lists changed before who came to it (an agent's
// upstream session its other sessions used, or a spare).
func (u *upstream) shareView(l *link, who Session) {
	l.mu.Lock()
	own := l.offer != nil
	l.mu.Unlock()
	if own {
		u.hub.viewsChanged([]string{who.ID})
	}
}

// opened tells the supervisor that who is served by l.
func (u *upstream) opened(l *link, who Session) {
	ev := UpstreamEvent{Upstream: u.spec.Name, Action: "opened", Sharing: u.spec.sharing(), Reason: "the first request that needs this upstream"}
	switch {
	case u.spec.sharing() == PerAgent && len(l.sessionIDs()) > 1:
		ev.Reason = "shared with the agent's other sessions (per_agent)"
	case l.replaces != "":
		ev.Action, ev.Reason = "reopened", l.replaces+"; the upstream's state for the earlier session is gone"
	}
	l.tellMu.Lock()
	defer l.tellMu.Unlock()
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed {
		return // closed while it opened: its closing was not told either
	}
	if l.told == nil {
		l.told = map[string]bool{}
	}
	l.told[who.ID] = true
	u.hub.report(who.ID, ev)
	l.mu.Lock()
	own := l.offer != nil
	l.mu.Unlock()
	if own {
		// The agent's upstream session offers its own: so does this session's view.
		u.hub.viewsChanged([]string{who.ID})
	}
}

// setLevel sets an upstream session's logging level.
func (u *upstream) setLevel(l *link, level mcp.LoggingLevel) {
	ctx, cancel := context.WithTimeout(l.ctx, u.spec.callTimeout())
	defer cancel()
	req := mcp.SetLevelRequest{}
	req.Params.Level = level
	if err := l.conn.cli.SetLevel(ctx, req); err != nil {
		u.log.Debug("logging/setLevel failed", "err", u.redact(err))
	}
}

// closeLink closes l, telling the agent sessions in to why. The next
// request of its owner opens a new upstream session, which replaces this
// one when replaced is set.
func (u *upstream) closeLink(l *link, reason string, to []string, replaced bool) {
	u.mu.Lock()
	closing := u.detachLocked(l, reason, replaced)
	u.mu.Unlock()
	if closing {
		u.finishClose(l, reason, to)
	}
}

// detachLocked takes l out of use and marks it closed; it reports whether
// it was open, and so is for the caller to finish closing. Deciding to
// close and detaching under one hold of u.mu means no request can take l
// in between (linkFor finds links under it). u.mu is held.
func (u *upstream) detachLocked(l *link, reason string, replaced bool) bool {
	if u.links[l.key] == l {
		delete(u.links, l.key)
		if replaced {
			u.gone[l.key] = fmt.Sprintf("the upstream session before this one closed (%s)", reason)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	already := l.closed
	l.closed = true
	return !already
}

// finishClose tells the agent sessions in to that l closed, and ends its
// transport in the background. Their views lose what only l offered
// first: their next upstream session starts from the upstream's offer.
func (u *upstream) finishClose(l *link, reason string, to []string) {
	u.hub.viewsChanged(to)
	l.tellMu.Lock()
	for _, id := range to {
		if l.told[id] {
			u.hub.report(id, UpstreamEvent{Upstream: u.spec.Name, Action: "closed", Reason: reason, Sharing: u.spec.sharing()})
		}
	}
	l.tellMu.Unlock()
	u.hub.wg.Add(1)
	go func() {
		defer u.hub.wg.Done()
		l.shut()
	}()
}

// shut ends the link's transport: an HTTP DELETE, or the child process
// stopped. It waits for an opening in progress first.
func (l *link) shut() {
	<-l.ready
	// The cancel goes first: closing mcp-go's transport first lost its
	// DELETE now and then (TestAttackUpstreamSessionsSubscribeThenLeave),
	// at the price of a logged "context canceled" from its stream.
	l.cancel()
	if l.err == nil {
		l.conn.close()
	}
}

// release is an agent session's end: its own upstream session closes, and
// an agent's upstream session once none of its sessions is left.
func (u *upstream) release(who Session, reason string) {
	if u.spec.sharing() == Shared {
		return
	}
	key := u.ownerKey(who)
	u.mu.Lock()
	delete(u.gone, who.ID)
	l := u.links[key]
	if l == nil {
		u.mu.Unlock()
		return
	}
	l.mu.Lock()
	_, served := l.sessions[who.ID]
	delete(l.sessions, who.ID)
	last := served && len(l.sessions) == 0
	l.mu.Unlock()
	// Under the same hold of mu: another session of the agent that
	// joins l after this decision would find it closed.
	closing := last && u.detachLocked(l, reason, false)
	u.mu.Unlock()
	switch {
	case closing:
		u.finishClose(l, reason, []string{who.ID})
	case !last:
		l.tellMu.Lock()
		delete(l.told, who.ID) // an agent's upstream session outlives many of its sessions
		l.tellMu.Unlock()
	}
}

// reap closes upstream sessions that carried no request for the idle
// timeout.
func (u *upstream) reap(now time.Time) {
	idle := u.spec.idleTimeout()
	reason := fmt.Sprintf("idle for more than %s", idle)
	u.mu.Lock()
	var stale []*link
	for _, l := range u.links {
		select {
		case <-l.ready:
		default:
			continue // still opening: a request waits for it
		}
		l.mu.Lock()
		idleNow := len(l.inflight) == 0 && now.Sub(l.lastUse) > idle
		l.mu.Unlock()
		// Detached under the same hold of mu as the check: linkFor, which
		// hands links out under mu, cannot hand l out in between.
		if idleNow && u.detachLocked(l, reason, true) {
			stale = append(stale, l)
		}
	}
	// A spare idle as long may have expired upstream: it is replaced
	// rather than handed to an agent.
	fresh := u.spare[:0]
	var expired []*link
	for _, l := range u.spare {
		if now.Sub(l.lastUse) > idle {
			expired = append(expired, l)
			continue
		}
		fresh = append(fresh, l)
	}
	u.spare = fresh
	u.mu.Unlock()
	for _, l := range stale {
		u.finishClose(l, reason, l.sessionIDs())
	}
	for _, l := range expired {
		l.mu.Lock()
		l.closed = true
		l.mu.Unlock()
		u.hub.wg.Add(1)
		go func() {
			defer u.hub.wg.Done()
			l.shut()
		}()
	}
	if len(expired) > 0 {
		u.fillSpares()
	}
}

// fillSpares opens spare upstream sessions in the background until there
// are as many as the Spec asks for, within the cap.
func (u *upstream) fillSpares() {
	u.mu.Lock()
	defer u.mu.Unlock()
	for len(u.spare)+u.filling < u.spec.spares() && len(u.links)+len(u.spare)+u.filling < u.spec.maxSessions() {
		if u.hub.runCtx.Err() != nil {
			return
		}
		u.filling++
		l := u.newLink("")
		u.hub.wg.Add(1)
		go func() {
			defer u.hub.wg.Done()
			ctx, cancel := context.WithTimeout(l.ctx, connectTimeout)
			c, caps, err := u.dial(ctx, l.ctx, l)
			cancel()
			u.mu.Lock()
			u.filling--
			if err == nil && u.hub.runCtx.Err() == nil {
				l.conn, l.caps = c, caps
				close(l.ready)
				u.spare = append(u.spare, l)
				u.mu.Unlock()
				return
			}
			u.mu.Unlock()
			if err != nil {
				u.log.Warn("cannot open a spare upstream session", "err", u.redact(err))
				l.err = err
			} else {
				l.conn, l.caps = c, caps
			}
			close(l.ready)
			l.shut()
		}()
	}
}

// closeAll closes every agent's upstream session and spare, recording
// nothing: warden is stopping, and its sessions are resumed later.
func (u *upstream) closeAll() {
	u.mu.Lock()
	all := slices.Collect(maps.Values(u.links))
	all = append(all, u.spare...)
	u.links, u.spare = map[string]*link{}, nil
	u.mu.Unlock()
	for _, l := range all {
		l.mu.Lock()
		l.closed = true
		l.mu.Unlock()
		l.shut()
	}
}

// serving finds the link that serves the agent session id, if any.
func (u *upstream) serving(id string) *link {
	u.mu.RLock()
	defer u.mu.RUnlock()
	if l := u.links[id]; l != nil && u.spec.sharing() == PerSession {
		return l
	}
	for _, l := range u.links {
		l.mu.Lock()
		_, ok := l.sessions[id]
		l.mu.Unlock()
		if ok {
			return l
		}
	}
	return nil
}

func (l *link) sessionIDs() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Sorted(maps.Keys(l.sessions))
}

// latest is the agent session that last made a request on l.
func (l *link) latest() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var id string
	var at time.Time
	for s, t := range l.sessions {
		if id == "" || t.After(at) {
			id, at = s, t
		}
	}
	return id
}

func (l *link) track(c *call, on bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if on {
		l.inflight[c] = struct{}{}
		l.lastUse = time.Now()
		return
	}
	delete(l.inflight, c)
	l.lastUse = time.Now()
}

func (l *link) soleCall() *call {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.inflight) != 1 {
		return nil
	}
	for c := range l.inflight {
		return c
	}
	return nil
}

// listChanged lists what l's upstream session offers again, in the
// background; changes during a listing make one more.
func (l *link) listChanged() {
	l.mu.Lock()
	if l.relist || l.closed {
		l.again = !l.closed
		l.mu.Unlock()
		return
	}
	l.relist = true
	l.mu.Unlock()
	h := l.u.hub
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		<-l.ready
		for l.err == nil && l.ctx.Err() == nil {
			o := l.u.list(l.ctx, l.conn.cli, l.caps)
			if l.ctx.Err() != nil {
				break
			}
			l.mu.Lock()
			l.offer = &o
			again := l.again
			l.again = false
			if !again {
				l.relist = false
			}
			l.mu.Unlock()
			h.viewsChanged(l.sessionIDs())
			if !again {
				return
			}
		}
		l.mu.Lock()
		l.relist = false
		l.mu.Unlock()
	}()
}

// note explains a failure on a replacing upstream session to the agent:
// what the upstream kept before is gone.
func (l *link) note() string {
	if l.replaces == "" {
		return ""
	}
	return fmt.Sprintf("warden: this agent session's upstream session with %q was opened anew (%s); what the upstream kept for the earlier one is gone", l.u.spec.Name, l.replaces)
}
