package tools

import (
	"context"
	"errors"
	"fmt"

	"github.com/mark3labs/mcp-go/mcp"
)

// errNoSession is returned to an upstream whose request towards the client
// cannot be tied to exactly one agent session: warden will not guess.
var errNoSession = errors.New("warden cannot tell which agent session this request belongs to")

// notification routes what an upstream sends without being asked, on its
// own session (l nil) or on an agent's upstream session l.
//
//   - progress goes to the call that owns the token, with the agent's token,
//     when it comes from the upstream session the call is on;
//   - log messages go to the agent sessions l serves; on the upstream's own
//     session, shared by all agents, to the agent of the call in flight
//     when there is exactly one (a log line is never shown to another
//     agent);
//   - list_changed lists again: the catalog for the upstream's own
//     session, the view of the sessions l serves for l;
//   - resources/updated goes to the subscribed sessions (of l, for l).
func (h *Hub) notification(u *upstream, l *link, n mcp.JSONRPCNotification) {
	params := n.Params.AdditionalFields
	if h.peer == nil && n.Method != string(mcp.MethodNotificationToolsListChanged) &&
		n.Method != string(mcp.MethodNotificationResourcesListChanged) && n.Method != string(mcp.MethodNotificationPromptsListChanged) {
		return // nobody to relay to
	}
	switch n.Method {
	case string(mcp.MethodNotificationProgress):
		tok := fmt.Sprint(params["progressToken"])
		v, ok := h.calls.Load(tok)
		if !ok {
			return
		}
		c := v.(*call)
		if c.up != u || c.on.Load() != l {
			// Tokens are warden's and easy to guess: another upstream
			// session's progress never reaches this call.
			u.log.Debug("progress for a call on another upstream session not relayed", "token", tok)
			return
		}
		out := copyParams(params)
		out["progressToken"] = c.downToken
		_ = h.peer.Notify(c.ctx, c.who.ID, n.Method, out)
	case string(mcp.MethodNotificationMessage):
		switch {
		case l != nil:
			for _, id := range l.sessionIDs() {
				_ = h.peer.Notify(l.ctx, id, n.Method, copyParams(params))
			}
		case u.soleCall() != nil:
			c := u.soleCall()
			_ = h.peer.Notify(c.ctx, c.who.ID, n.Method, copyParams(params))
		default:
			u.log.Debug("log message from upstream not relayed: no single call in flight")
		}
	case string(mcp.MethodNotificationToolsListChanged),
		string(mcp.MethodNotificationResourcesListChanged),
		string(mcp.MethodNotificationPromptsListChanged):
		if l != nil {
			l.listChanged()
		} else {
			u.listChanged()
		}
	case string(mcp.MethodNotificationResourceUpdated):
		uri, ok := params["uri"].(string)
		if !ok {
			return
		}
		var to []string
		if l != nil {
			if to = l.sessionIDs(); len(to) == 0 {
				return
			}
		}
		h.peer.ResourceUpdated(to, uri)
	}
}

func copyParams(in map[string]any) map[string]any {
	out := make(map[string]any, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}

// soleCall returns the only request in flight on u's own session, or nil.
func (u *upstream) soleCall() *call {
	u.mu.RLock()
	defer u.mu.RUnlock()
	if len(u.inflight) != 1 {
		return nil
	}
	for c := range u.inflight {
		return c
	}
	return nil
}

// peerHandlers answers an upstream's requests towards the client by
// relaying them to the agent session they belong to.
type peerHandlers struct {
	u *upstream
	l *link // nil on the upstream's own session
}

// target finds the agent session an upstream's request belongs to: the
// call whose context the transport handed over (Streamable HTTP does), else
// the only call in flight on that upstream session; on an agent's upstream
// session outside any call, the session that used it last (for PerSession,
// its only one). On the upstream's own session, shared by every agent,
// warden does not guess.
func (p peerHandlers) target(ctx context.Context) (context.Context, string, error) {
	if p.u.hub.peer == nil {
		return nil, "", errNoSession
	}
	if c, ok := ctx.Value(callKey{}).(*call); ok {
		return c.ctx, c.who.ID, nil
	}
	if p.l == nil {
		if c := p.u.soleCall(); c != nil {
			return c.ctx, c.who.ID, nil
		}
		return nil, "", errNoSession
	}
	if c := p.l.soleCall(); c != nil {
		return c.ctx, c.who.ID, nil
	}
	if id := p.l.latest(); id != "" {
		return ctx, id, nil
	}
	return nil, "", errNoSession
}

func (p peerHandlers) CreateMessage(ctx context.Context, req mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
	ctx, id, err := p.target(ctx)
	if err != nil {
		return nil, err
	}
	return p.u.hub.peer.CreateMessage(ctx, id, req)
}

func (p peerHandlers) Elicit(ctx context.Context, req mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	ctx, id, err := p.target(ctx)
	if err != nil {
		return nil, err
	}
	return p.u.hub.peer.Elicit(ctx, id, req)
}

func (p peerHandlers) ListRoots(ctx context.Context, req mcp.ListRootsRequest) (*mcp.ListRootsResult, error) {
	ctx, id, err := p.target(ctx)
	if err != nil {
		return nil, err
	}
	return p.u.hub.peer.ListRoots(ctx, id, req)
}
