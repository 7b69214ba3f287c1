package supervisor

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/warden-dev/warden"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/tools"
)

// callTool is the path of one tools/call: decide, record the call durably,
// forward, record the result durably, answer. Whatever goes wrong while
// deciding or recording refuses the call (fail closed).
func (s *Supervisor) callTool(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	sess := s.sessionFrom(ctx)
	if sess == nil {
		return refusal("warden refused this call: the session is not known or was not recorded"), nil
	}
	t, ok := s.hub.Catalog().Tool(req.Params.Name)
	if !ok || !sess.agent.sees(t) {
		return refusal(fmt.Sprintf("warden refused this call: tool %q is not available to agent %q", req.Params.Name, sess.agent.Name)), nil
	}
	callID := newID()
	args, err := json.Marshal(req.Params.Arguments)
	if err != nil {
		args = json.RawMessage(`null`)
	}
	verdict, reasons := s.decide(sess, t, req)

	// The call's event is durable before anything reaches the upstream. It
	// is written even if the agent has gone, so the record is whole.
	wctx := context.WithoutCancel(ctx)
	_, err = s.store.Append(wctx, sess.id, store.Event{
		Kind: "call", CallID: callID, Upstream: t.Upstream, Tool: t.Name,
		Args: args, Verdict: verdict.String(), Reasons: reasons,
	})
	if err != nil {
		s.log.Error("cannot record call; refused", "session", sess.id, "tool", t.Def.Name, "err", err)
		return refusal("warden refused this call: it could not be recorded"), nil
	}
	if verdict > warden.Throttle {
		return refusal(fmt.Sprintf("warden refused this call (%s): %s", verdict, strings.Join(reasons, "; "))), nil
	}

	start := time.Now()
	res, ferr := s.hub.CallTool(ctx, req)
	latency := time.Since(start)
	if ferr != nil {
		res = upstreamFailure(ferr)
	}
	ev := store.Event{
		Kind: "result", CallID: callID, Upstream: t.Upstream, Tool: t.Name,
		OK: !res.IsError, Size: resultSize(res), LatencyUS: latency.Microseconds(),
	}
	if ferr != nil {
		ev.Error = ferr.Error()
	} else if res.IsError {
		ev.Error = firstText(res)
	}
	if _, err := s.store.Append(wctx, sess.id, ev); err != nil {
		// The upstream acted, but a result that is not on record is not
		// handed over: the agent learns that, and the log says why.
		s.log.Error("cannot record result; withheld", "session", sess.id, "tool", t.Def.Name, "err", err)
		return refusal("warden withheld the result: it could not be recorded"), nil
	}
	return res, nil
}

// decide returns the verdict for a call. Until workflows and rules are
// wired in, every visible tool is allowed.
func (s *Supervisor) decide(*session, tools.Tool, mcp.CallToolRequest) (warden.Verdict, []string) {
	return warden.Allow, nil
}

// refusal is what the agent sees when warden does not forward a call: a
// tool error whose text says why, so that a model can read it.
func refusal(msg string) *mcp.CallToolResult {
	return mcp.NewToolResultError(msg)
}

// upstreamFailure turns a forwarding error into a tool error (trap 7: a
// handler error would reach the agent as a bare -32603).
func upstreamFailure(err error) *mcp.CallToolResult {
	return mcp.NewToolResultError("warden could not get a result from the upstream: " + err.Error())
}

func resultSize(res *mcp.CallToolResult) int {
	b, err := json.Marshal(res)
	if err != nil {
		return 0
	}
	return len(b)
}

func firstText(res *mcp.CallToolResult) string {
	for _, c := range res.Content {
		if t, ok := c.(mcp.TextContent); ok {
			if len(t.Text) > 500 {
				return t.Text[:500] + "…"
			}
			return t.Text
		}
	}
	return ""
}
