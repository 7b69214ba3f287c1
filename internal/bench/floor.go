package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/warden-dev/warden/store"
)

// floorMode is the hop with warden's two durable points per call and
// nothing else of warden: the floor any warden on this store sets, since
// both of warden's sides are mcp-go as the hop's are. Where warden stands
// against it says how much of warden's gap to the hop is its own code and
// how much the durable path's.
const floorMode = "hop-durable"

// startDurableHop runs floorMode on db: the hop, its forwards wrapped by
// a durableHop's around.
func startDurableHop(ctx context.Context, upURL string, serve func(http.Handler) (string, error), db store.Store) (string, func(), error) {
	h := &durableHop{db: db, known: map[string]bool{}}
	return startHop(ctx, upURL, serve, h.around)
}

// aroundForward wraps a hop's forward of req (startHop).
type aroundForward func(ctx context.Context, req mcp.CallToolRequest, forward func() (*mcp.CallToolResult, error)) (*mcp.CallToolResult, error)

// around is floorMode's aroundForward: it appends a call event to the
// session's history before the forward and a result event after, each
// durable before it goes on, as warden's are. Each MCP session gets its
// own history session on its first call.
func (h *durableHop) around(ctx context.Context, req mcp.CallToolRequest, forward func() (*mcp.CallToolResult, error)) (*mcp.CallToolResult, error) {
	sess := server.ClientSessionFromContext(ctx)
	if sess == nil {
		return nil, errors.New("hop-durable: a call outside a session")
	}
	id := sess.SessionID()
	if err := h.open(ctx, id); err != nil {
		return nil, err
	}
	args, err := json.Marshal(req.Params.Arguments)
	if err != nil {
		return nil, fmt.Errorf("hop-durable: arguments: %w", err)
	}
	if _, err := h.db.Append(ctx, id, store.Event{Kind: store.KindCall, Upstream: "echo", Tool: req.Params.Name, Args: args, Verdict: "allow", Time: time.Now()}); err != nil {
		return nil, fmt.Errorf("hop-durable: record the call: %w", err)
	}
	began := time.Now()
	res, err := forward()
	if err != nil {
		return nil, err
	}
	if _, err := h.db.Append(ctx, id, store.Event{Kind: store.KindResult, Upstream: "echo", Tool: req.Params.Name, OK: !res.IsError,
		LatencyUS: time.Since(began).Microseconds(), Time: time.Now()}); err != nil {
		return nil, fmt.Errorf("hop-durable: record the result: %w", err)
	}
	return res, nil
}

// durableHop creates each MCP session's history session once.
type durableHop struct {
	db    store.Store
	mu    sync.Mutex
	known map[string]bool
}

// open creates session id in the history unless it was created already.
func (h *durableHop) open(ctx context.Context, id string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.known[id] {
		return nil
	}
	err := h.db.CreateSession(ctx, store.Session{ID: id, Agent: "bench", Started: time.Now()})
	if err != nil && !errors.Is(err, store.ErrExists) {
		return fmt.Errorf("hop-durable: open session %s: %w", id, err)
	}
	h.known[id] = true
	return nil
}
