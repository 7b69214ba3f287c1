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

// notification routes what an upstream sends without being asked.
//
//   - progress goes to the call that owns the token, with the agent's token;
//   - log messages go to the agent of the call in flight on that upstream,
//     when there is exactly one (an upstream connection is shared by all
//     sessions, and a log line is never shown to another agent);
//   - list_changed refreshes the catalog; resources/updated goes to the
//     subscribed sessions.
func (h *Hub) notification(u *upstream, n mcp.JSONRPCNotification) {
	params := n.Params.AdditionalFields
	switch n.Method {
	case string(mcp.MethodNotificationProgress):
		tok := fmt.Sprint(params["progressToken"])
		v, ok := h.calls.Load(tok)
		if !ok {
			return
		}
		c := v.(*call)
		out := copyParams(params)
		out["progressToken"] = c.downToken
		_ = h.peer.Notify(c.ctx, n.Method, out)
	case string(mcp.MethodNotificationMessage):
		if c := u.soleCall(); c != nil {
			_ = h.peer.Notify(c.ctx, n.Method, copyParams(params))
		} else {
			u.log.Debug("log message from upstream not relayed: no single call in flight")
		}
	case string(mcp.MethodNotificationToolsListChanged),
		string(mcp.MethodNotificationResourcesListChanged),
		string(mcp.MethodNotificationPromptsListChanged):
		u.listChanged()
	case string(mcp.MethodNotificationResourceUpdated):
		if uri, ok := params["uri"].(string); ok && h.peer != nil {
			h.peer.ResourceUpdated(uri)
		}
	}
}

func copyParams(in map[string]any) map[string]any {
	out := make(map[string]any, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}

// soleCall returns the only request in flight on u, or nil.
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

// callFor finds the agent request that an upstream's request belongs to:
// the one whose context the transport handed over (Streamable HTTP does),
// else the only one in flight on that upstream.
func (u *upstream) callFor(ctx context.Context) (*call, error) {
	if c, ok := ctx.Value(callKey{}).(*call); ok {
		return c, nil
	}
	if c := u.soleCall(); c != nil {
		return c, nil
	}
	return nil, errNoSession
}

// peerHandlers answers an upstream's requests towards the client by
// relaying them to the agent session they belong to.
type peerHandlers struct{ u *upstream }

func (p peerHandlers) CreateMessage(ctx context.Context, req mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
	c, err := p.u.callFor(ctx)
	if err != nil {
		return nil, err
	}
	return p.u.hub.peer.CreateMessage(c.ctx, req)
}

func (p peerHandlers) Elicit(ctx context.Context, req mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	c, err := p.u.callFor(ctx)
	if err != nil {
		return nil, err
	}
	return p.u.hub.peer.Elicit(c.ctx, req)
}

func (p peerHandlers) ListRoots(ctx context.Context, req mcp.ListRootsRequest) (*mcp.ListRootsResult, error) {
	c, err := p.u.callFor(ctx)
	if err != nil {
		return nil, err
	}
	return p.u.hub.peer.ListRoots(c.ctx, req)
}
