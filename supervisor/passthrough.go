package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/warden-dev/warden/workflows"
)

// errNotVisible refuses a resource template or prompt the agent may not use.
var errNotVisible = errors.New("not available to this agent")

// afterSubscribe passes a subscription on to the upstream that serves the
// resource; mcp-go has already recorded it on the agent's session.
func (s *Supervisor) afterSubscribe(ctx context.Context, _ any, req *mcp.SubscribeRequest, _ *mcp.EmptyResult) {
	up, found := resourceUpstream(s.hub.Catalog(), req.Params.URI)
	sess := s.sessionFrom(ctx)
	// refuseSubscribe has refused what the agent may not read; this is
	// the same check, should the policy have changed in between.
	if !found || sess == nil || !s.mayUse(sess.agent, workflows.KindResource, up, req.Params.URI) {
		return
	}
	sess.subscribe(req.Params.URI, true)
	if err := s.hub.Subscribe(context.WithoutCancel(ctx), up, req.Params.URI); err != nil {
		s.log.Warn("upstream subscription failed", "upstream", up, "uri", req.Params.URI, "err", err)
	}
}

// afterUnsubscribe stops relaying updates of a resource to the session.
// The upstream subscription stays: other sessions may still want it.
func (s *Supervisor) afterUnsubscribe(ctx context.Context, _ any, req *mcp.UnsubscribeRequest, _ *mcp.EmptyResult) {
	if sess := s.sessionFrom(ctx); sess != nil {
		sess.subscribe(req.Params.URI, false)
	}
}

// peer relays what upstreams send towards agents to the session of the
// request they belong to.
type peer struct{ s *Supervisor }

func (p peer) Notify(ctx context.Context, method string, params map[string]any) error {
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

func (p peer) CreateMessage(ctx context.Context, req mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
	p.awaitListening(ctx)
	return p.s.mcp.RequestSampling(ctx, req)
}

func (p peer) Elicit(ctx context.Context, req mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	return p.s.mcp.RequestElicitation(ctx, req)
}

func (p peer) ListRoots(ctx context.Context, req mcp.ListRootsRequest) (*mcp.ListRootsResult, error) {
	p.awaitListening(ctx)
	return p.s.mcp.RequestRoots(ctx, req)
}

// awaitListening gives the agent's GET stream a moment to attach before a
// request is queued for it (mcp-go sends sampling and roots only there).
func (p peer) awaitListening(ctx context.Context) {
	if sess := p.s.sessionFrom(ctx); sess != nil && sess.key != stdioSessionKey {
		sess.awaitListening(ctx, listenWait)
	}
}

// ResourceUpdated tells every session subscribed to uri.
func (p peer) ResourceUpdated(uri string) {
	for _, sess := range p.s.sessions.all() {
		if !sess.subscribed(uri) {
			continue
		}
		err := p.s.mcp.SendNotificationToSpecificClient(sess.key, string(mcp.MethodNotificationResourceUpdated), map[string]any{"uri": uri})
		if err != nil {
			p.s.log.Debug("resource update not delivered", "session", sess.id, "err", err)
		}
	}
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
