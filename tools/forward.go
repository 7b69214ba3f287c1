package tools

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
)

// MaxResultBytes bounds what an upstream may return for one request; a
// larger answer is refused rather than handed to the agent.
const MaxResultBytes = 16 << 20

// ErrUnknown is wrapped by errors for a tool, prompt or resource that no
// connected upstream offers.
var ErrUnknown = errors.New("not offered by any upstream")

// call is one request in flight to an upstream, kept so that what the
// upstream sends back during it (progress, logs, sampling) reaches the
// right agent session.
type call struct {
	ctx       context.Context // the agent request's, carrying its session
	who       Session
	up        *upstream
	downToken mcp.ProgressToken // the agent's progress token, if it gave one
	// on is the agent's upstream session the request is on; nil on the
	// upstream's own session. Only that session may report its progress.
	on atomic.Pointer[link]
}

type callKey struct{}

// callContext is the agent request's context (c.ctx) with c under
// callKey, as context.WithValue would give, without an allocation of its
// own: a struct of one pointer fits in an interface as it is. (Every
// upstream request is a call.)
type callContext struct{ c *call }

// Deadline is the agent request's.
func (cc callContext) Deadline() (time.Time, bool) { return cc.c.ctx.Deadline() }

// Done is the agent request's.
func (cc callContext) Done() <-chan struct{} { return cc.c.ctx.Done() }

// Err is the agent request's.
func (cc callContext) Err() error { return cc.c.ctx.Err() }

// Value is the call under callKey, else the agent request's value.
func (cc callContext) Value(key any) any {
	if key == (callKey{}) {
		return cc.c
	}
	return cc.c.ctx.Value(key)
}

// CallTool forwards a tools/call whose Params.Name is the exposed name, and
// returns the result with its encoded size. An error means the upstream
// gave no result: it is down, timed out, broke the connection, or answered
// with a protocol error. A tool that failed is a result with IsError set,
// not an error.
func (h *Hub) CallTool(ctx context.Context, who Session, req mcp.CallToolRequest) (*mcp.CallToolResult, int, error) {
	t, ok := h.CatalogFor(who.ID).Tool(req.Params.Name)
	if !ok {
		return nil, 0, fmt.Errorf("tool %q: %w", req.Params.Name, ErrUnknown)
	}
	u, err := h.upstreamFor(t.Upstream) // gone if a reload removed it since the catalog was read
	if err != nil {
		return nil, 0, fmt.Errorf("tool %q: %w", req.Params.Name, err)
	}
	out := mcp.CallToolRequest{}
	out.Params.Name = t.Name
	out.Params.Arguments = req.Params.Arguments // RawArguments stays empty (trap 9)
	var res *mcp.CallToolResult
	var note string
	err = h.do(ctx, u, who, req.Params.Meta, func(ctx context.Context, cli *client.Client, meta *mcp.Meta, l *link) error {
		out.Params.Meta = meta
		var err error
		res, err = cli.CallTool(ctx, out)
		if l != nil {
			note = l.note()
		}
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("upstream %q, tool %q: %w", u.spec.Name, t.Name, err)
	}
	if res.IsError && note != "" {
		res.Content = append(res.Content, mcp.NewTextContent(note))
	}
	size, err := sizeOf(res)
	if err != nil {
		return nil, 0, fmt.Errorf("upstream %q, tool %q: %w", u.spec.Name, t.Name, err)
	}
	return res, size, nil
}

// ReadResource forwards resources/read to the upstream that listed the URI,
// or to upstream when the URI came from that upstream's template.
func (h *Hub) ReadResource(ctx context.Context, who Session, upstream string, req mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
	u, err := h.upstreamFor(upstream)
	if err != nil {
		return nil, err
	}
	out := mcp.ReadResourceRequest{}
	out.Params.URI = req.Params.URI
	out.Params.Arguments = req.Params.Arguments
	var res *mcp.ReadResourceResult
	err = h.do(ctx, u, who, req.Params.Meta, func(ctx context.Context, cli *client.Client, meta *mcp.Meta, _ *link) error {
		out.Params.Meta = meta
		var err error
		res, err = cli.ReadResource(ctx, out)
		return err
	})
	if err == nil {
		_, err = sizeOf(res)
	}
	return res, err
}

// GetPrompt forwards prompts/get; Params.Name is the exposed name.
func (h *Hub) GetPrompt(ctx context.Context, who Session, req mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
	p, ok := h.CatalogFor(who.ID).Prompt(req.Params.Name)
	if !ok {
		return nil, fmt.Errorf("prompt %q: %w", req.Params.Name, ErrUnknown)
	}
	u, err := h.upstreamFor(p.Upstream)
	if err != nil {
		return nil, fmt.Errorf("prompt %q: %w", req.Params.Name, err)
	}
	out := mcp.GetPromptRequest{}
	out.Params.Name = p.Name
	out.Params.Arguments = req.Params.Arguments
	var res *mcp.GetPromptResult
	err = h.do(ctx, u, who, req.Params.Meta, func(ctx context.Context, cli *client.Client, meta *mcp.Meta, _ *link) error {
		out.Params.Meta = meta
		var err error
		res, err = cli.GetPrompt(ctx, out)
		return err
	})
	return res, err
}

// Complete forwards completion/complete for a prompt (by exposed name) or a
// resource template of upstream.
func (h *Hub) Complete(ctx context.Context, who Session, upstream string, req mcp.CompleteRequest) (*mcp.CompleteResult, error) {
	u, err := h.upstreamFor(upstream)
	if err != nil {
		return nil, err
	}
	out := mcp.CompleteRequest{}
	out.Params = req.Params
	if ref, ok := req.Params.Ref.(mcp.PromptReference); ok {
		if p, found := h.CatalogFor(who.ID).Prompt(ref.Name); found {
			ref.Name = p.Name
			out.Params.Ref = ref
		}
	}
	var res *mcp.CompleteResult
	err = h.do(ctx, u, who, nil, func(ctx context.Context, cli *client.Client, _ *mcp.Meta, _ *link) error {
		var err error
		res, err = cli.Complete(ctx, out)
		return err
	})
	return res, err
}

// Subscribe asks upstream to send resources/updated for uri, on who's
// upstream session unless the upstream is Shared.
func (h *Hub) Subscribe(ctx context.Context, who Session, upstream, uri string) error {
	u, err := h.upstreamFor(upstream)
	if err != nil {
		return err
	}
	return h.do(ctx, u, who, nil, func(ctx context.Context, cli *client.Client, _ *mcp.Meta, _ *link) error {
		req := mcp.SubscribeRequest{}
		req.Params.URI = uri
		return cli.Subscribe(ctx, req)
	})
}

// SetLevel sets who's logging level on every upstream that logs: on its
// own upstream sessions that are open, and on those opened for it later.
// A Shared upstream session is shared by all agents: the last level set
// wins there, and each session's own level still filters what reaches it.
func (h *Hub) SetLevel(ctx context.Context, who Session, level mcp.LoggingLevel) {
	h.levelFor(who, level)
	for _, u := range h.upstreams().list {
		if u.spec.sharing() != Shared {
			if l := u.serving(who.ID); l != nil {
				select {
				case <-l.ready: // its client and caps are set once it is
					if l.err == nil && l.caps.Logging != nil {
						u.setLevel(l, level)
					}
				default: // still opening: open sets the level stored above
				}
			}
			continue
		}
		if _, caps, err := u.client(); err != nil || caps.Logging == nil {
			continue
		}
		err := h.do(ctx, u, who, nil, func(ctx context.Context, cli *client.Client, _ *mcp.Meta, _ *link) error {
			req := mcp.SetLevelRequest{}
			req.Params.Level = level
			return cli.SetLevel(ctx, req)
		})
		if err != nil {
			u.log.Debug("logging/setLevel failed", "err", err)
		}
	}
}

// Unsubscribe asks upstream to stop sending resources/updated for uri on
// who's own upstream session, if it has one. A shared upstream session's
// subscription stays: other sessions may still want it.
func (h *Hub) Unsubscribe(ctx context.Context, who Session, upstream, uri string) error {
	u, err := h.upstreamFor(upstream)
	if err != nil || u.spec.sharing() == Shared || u.serving(who.ID) == nil {
		return err
	}
	return h.do(ctx, u, who, nil, func(ctx context.Context, cli *client.Client, _ *mcp.Meta, _ *link) error {
		req := mcp.UnsubscribeRequest{}
		req.Params.URI = uri
		return cli.Unsubscribe(ctx, req)
	})
}

func (h *Hub) upstreamFor(name string) (*upstream, error) {
	u, ok := h.upstreams().byName[name]
	if !ok {
		return nil, fmt.Errorf("upstream %q: %w", name, ErrUnknown)
	}
	return u, nil
}

// do runs one request on u for who with the agent's context: on who's
// upstream session (opened if needed) unless u is Shared, bounded by the
// upstream's timeout, tracked for routing, with a fresh _meta that carries
// only a progress token of warden's own (trap 8). A session that the
// upstream terminated is replaced and the request sent once more: a
// terminated session never saw it.
func (h *Hub) do(ctx context.Context, u *upstream, who Session, downMeta *mcp.Meta, fn requestFunc) error {
	return u.redact(h.doRaw(ctx, u, who, downMeta, fn))
}

// requestFunc sends one request on cli, the client of link l (nil on the
// upstream's own session).
type requestFunc func(ctx context.Context, cli *client.Client, meta *mcp.Meta, l *link) error

func (h *Hub) doRaw(ctx context.Context, u *upstream, who Session, downMeta *mcp.Meta, fn requestFunc) error {
	c := &call{ctx: ctx, up: u, who: who}
	var meta *mcp.Meta
	if downMeta != nil && downMeta.ProgressToken != nil {
		c.downToken = downMeta.ProgressToken
		tok := fmt.Sprintf("warden-%d", h.tokens.Add(1))
		meta = &mcp.Meta{ProgressToken: tok}
		h.calls.Store(tok, c)
		defer h.calls.Delete(tok)
	}
	meta = withTrace(ctx, meta)
	timeout := u.spec.callTimeout()
	rctx, cancel := context.WithTimeout(callContext{c}, timeout)
	defer cancel()
	if u.spec.sharing() == Shared {
		return h.doShared(ctx, rctx, u, c, meta, timeout, fn)
	}

	for attempt := 0; ; attempt++ {
		l, err := u.linkFor(rctx, who)
		if err != nil {
			if rctx.Err() != nil && ctx.Err() == nil {
				return fmt.Errorf("no upstream session within %s: %w", timeout, context.DeadlineExceeded)
			}
			return err
		}
		c.on.Store(l)
		l.track(c, true)
		err = fn(rctx, l.conn.cli, meta, l)
		l.track(c, false)
		if err == nil {
			return nil
		}
		if done := gaveUp(ctx, rctx, timeout); done != nil {
			return done
		}
		switch {
		case errors.Is(err, transport.ErrSessionTerminated):
			u.closeLink(l, "the upstream ended it", l.sessionIDs(), true)
			if attempt == 0 {
				continue
			}
		}
		var te *transport.Error
		if errors.As(err, &te) {
			// A broken upstream session is replaced on the next request.
			u.closeLink(l, fmt.Sprintf("its transport failed: %v", u.redact(err)), l.sessionIDs(), true)
		}
		if note := l.note(); note != "" {
			return fmt.Errorf("%w (%s)", err, note)
		}
		return err
	}
}

// doShared runs a request on the upstream's own session, shared by every
// agent.
func (h *Hub) doShared(ctx, rctx context.Context, u *upstream, c *call, meta *mcp.Meta, timeout time.Duration, fn requestFunc) error {
	u.mu.Lock()
	u.inflight[c] = struct{}{}
	u.mu.Unlock()
	defer func() {
		u.mu.Lock()
		delete(u.inflight, c)
		u.mu.Unlock()
	}()
	for attempt := 0; ; attempt++ {
		cli, _, err := u.client()
		if err != nil {
			return err
		}
		err = fn(rctx, cli, meta, nil)
		if err == nil {
			return nil
		}
		if done := gaveUp(ctx, rctx, timeout); done != nil {
			return done
		}
		switch {
		case errors.Is(err, transport.ErrSessionTerminated) && attempt == 0:
			u.poke()
			if !u.awaitNew(rctx, cli) {
				return err
			}
			continue
		}
		var te *transport.Error
		if errors.As(err, &te) {
			u.poke()
		}
		return err
	}
}

// awaitNew waits until the upstream has a connection other than old.
func (u *upstream) awaitNew(ctx context.Context, old *client.Client) bool {
	for {
		u.mu.RLock()
		cli, changed := u.cli, u.changed
		u.mu.RUnlock()
		if cli != nil && cli != old {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-changed:
		}
	}
}

// gaveUp says why a failed request is not tried again: the agent
// cancelled it (ctx) or the upstream's timeout passed (rctx); nil when
// neither.
func gaveUp(ctx, rctx context.Context, timeout time.Duration) error {
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("cancelled by the agent: %w", ctx.Err())
	case rctx.Err() != nil:
		return fmt.Errorf("no answer within %s: %w", timeout, context.DeadlineExceeded)
	}
	return nil
}
