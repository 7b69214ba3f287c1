package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/warden-dev/warden/tools"
	"github.com/warden-dev/warden/workflows"
)

// errNotVisible refuses a resource template or prompt the agent may not use.
var errNotVisible = errors.New("not available to this agent")

// afterSubscribe passes a subscription on to the upstream that serves the
// resource; mcp-go has already recorded it on the agent's session.
func (s *Supervisor) afterSubscribe(ctx context.Context, _ any, req *mcp.SubscribeRequest, _ *mcp.EmptyResult) {
	sess := s.sessionFrom(ctx)
	if sess == nil {
		return
	}
	up, found := resourceUpstream(s.hub.CatalogFor(sess.id), req.Params.URI)
	// refuseSubscribe has refused what the agent may not read; this is
	// the same check, should the policy have changed in between.
	if !found || !s.mayUse(sess.current(), workflows.KindResource, up, req.Params.URI) {
		return
	}
	sess.subscribe(req.Params.URI, true)
	err := sess.upstreamRequest(ctx, func(ctx context.Context) error {
		return s.hub.Subscribe(ctx, sess.who(), up, req.Params.URI)
	})
	if err != nil {
		s.log.Warn("upstream subscription failed", "upstream", up, "uri", req.Params.URI, "err", err)
	}
}

// afterUnsubscribe stops relaying updates of a resource to the session,
// and ends the subscription on its own upstream session.
func (s *Supervisor) afterUnsubscribe(ctx context.Context, _ any, req *mcp.UnsubscribeRequest, _ *mcp.EmptyResult) {
	sess := s.sessionFrom(ctx)
	if sess == nil {
		return
	}
	sess.subscribe(req.Params.URI, false)
	if up, found := resourceUpstream(s.hub.CatalogFor(sess.id), req.Params.URI); found {
		err := sess.upstreamRequest(ctx, func(ctx context.Context) error {
			return s.hub.Unsubscribe(ctx, sess.who(), up, req.Params.URI)
		})
		if err != nil {
			s.log.Debug("upstream unsubscribe failed", "upstream", up, "uri", req.Params.URI, "err", err)
		}
	}
}

// rootsChanged tells the session's own upstream sessions that its roots
// changed, so that they ask again.
func (s *Supervisor) rootsChanged(ctx context.Context, _ mcp.JSONRPCNotification) {
	if sess := s.sessionFrom(ctx); sess != nil {
		s.hub.RootsChanged(context.WithoutCancel(ctx), sess.who())
	}
}

// peer relays what upstreams send towards agents to the session they
// belong to.
type peer struct{ s *Supervisor }

// to returns a context that carries the agent session id's transport
// session: ctx when it is that session's request, else one made for it
// (what an upstream sends outside any call).
func (p peer) to(ctx context.Context, id string) (context.Context, *session, error) {
	if sess := p.s.sessionFrom(ctx); sess != nil && sess.id == id {
		return ctx, sess, nil
	}
	sess := p.s.sessionByID(id)
	if sess == nil {
		return nil, nil, fmt.Errorf("agent session %s is not live", id)
	}
	cs := sess.transport()
	if cs == nil {
		return nil, nil, fmt.Errorf("agent session %s has no transport session yet", id)
	}
	return p.s.mcp.WithContext(ctx, cs), sess, nil
}

func (p peer) Notify(ctx context.Context, id, method string, params map[string]any) error {
	ctx, _, err := p.to(ctx, id)
	if err != nil {
		return err
	}
	if method == string(mcp.MethodNotificationProgress) {
		if m, ok := ctx.Value(progressKey{}).(*progressMark); ok {
			m.sent()
		}
	}
	if method == string(mcp.MethodNotificationMessage) {
		// Log lines go through the session's own level filter.
		var n mcp.LoggingMessageNotification
		b, err := json.Marshal(params)
		if err == nil {
			err = json.Unmarshal(b, &n.Params)
		}
		if err != nil {
			return fmt.Errorf("relay log message: %w", err)
		}
		n.Method = method
		return p.s.mcp.SendLogMessageToClient(ctx, n)
	}
	return p.s.mcp.SendNotificationToClient(ctx, method, params)
}

// listenWait bounds how long a request towards the agent waits for the
// agent's GET stream.
const listenWait = 5 * time.Second

func (p peer) CreateMessage(ctx context.Context, id string, req mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
	ctx, sess, err := p.to(ctx, id)
	if err != nil {
		return nil, err
	}
	p.awaitListening(ctx, sess)
	return p.s.mcp.RequestSampling(ctx, req)
}

func (p peer) Elicit(ctx context.Context, id string, req mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	ctx, _, err := p.to(ctx, id)
	if err != nil {
		return nil, err
	}
	return p.s.mcp.RequestElicitation(ctx, req)
}

func (p peer) ListRoots(ctx context.Context, id string, req mcp.ListRootsRequest) (*mcp.ListRootsResult, error) {
	ctx, sess, err := p.to(ctx, id)
	if err != nil {
		return nil, err
	}
	p.awaitListening(ctx, sess)
	return p.s.mcp.RequestRoots(ctx, req)
}

// awaitListening gives the agent's GET stream a moment to attach before a
// request is queued for it (mcp-go sends sampling and roots only there).
func (p peer) awaitListening(ctx context.Context, sess *session) {
	if sess.key != stdioSessionKey {
		sess.awaitListening(ctx, listenWait)
	}
}

// ResourceUpdated tells the sessions subscribed to uri, of those in ids
// (any when ids is nil).
func (p peer) ResourceUpdated(ids []string, uri string) {
	for _, sess := range p.s.sessions.all() {
		if !sess.subscribed(uri) || ids != nil && !slices.Contains(ids, sess.id) {
			continue
		}
		err := p.s.mcp.SendNotificationToSpecificClient(sess.key, string(mcp.MethodNotificationResourceUpdated), map[string]any{"uri": uri})
		if err != nil {
			p.s.log.Debug("resource update not delivered", "session", sess.id, "err", err)
		}
	}
}

// SessionCatalog publishes what one agent session sees now.
func (p peer) SessionCatalog(id string, c *tools.Catalog) {
	if sess := p.s.sessionByID(id); sess != nil {
		p.s.publishView(sess, c)
	}
}

// UpstreamSession records an upstream session opened or closed for the
// agent session id on its chain.
func (p peer) UpstreamSession(id string, ev tools.UpstreamEvent) {
	p.s.recordUpstreamSession(id, ev)
}

// progressMark remembers when the last progress notification of a call was
// relayed. mcp-go may send a notification on the agent's GET stream while
// the result goes on the call's own stream, so the result can overtake it
// and the client then drops the notification as late; the call's answer
// waits progressGrace after the last one.
type progressMark struct {
	mu   sync.Mutex
	last time.Time
}

type progressKey struct{}

const progressGrace = 50 * time.Millisecond

func (m *progressMark) sent() {
	m.mu.Lock()
	m.last = time.Now()
	m.mu.Unlock()
}

// settle waits until progressGrace has passed since the last progress
// notification, if there was one.
func (m *progressMark) settle() {
	m.mu.Lock()
	last := m.last
	m.mu.Unlock()
	if last.IsZero() {
		return
	}
	if d := progressGrace - time.Since(last); d > 0 {
		time.Sleep(d)
	}
}
