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
	"github.com/warden-dev/warden/workflows"
)

// callTool is the path of one tools/call: decide, record the call and the
// session's new state durably, enforce the verdict, forward, observe the
// result, record it durably, answer. Whatever goes wrong while deciding or
// recording refuses the call (fail closed).
func (s *Supervisor) callTool(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	sess := s.sessionFrom(ctx)
	if sess == nil {
		return refusal("warden refused this call: the session is not known or was not recorded"), nil
	}
	callID := newID()
	args, err := json.Marshal(req.Params.Arguments)
	if err != nil {
		args = json.RawMessage(`null`)
	}
	wctx := context.WithoutCancel(ctx) // the record is written even if the agent has gone
	t, ok := s.hub.Catalog().Tool(req.Params.Name)
	if !ok || !sess.agent.sees(t) {
		// An attempt on a tool the agent cannot see is refused and recorded.
		reason := fmt.Sprintf("tool %q is not available to agent %q", req.Params.Name, sess.agent.Name)
		_, err := s.store.Append(wctx, sess.id, store.Event{Kind: store.KindCall, CallID: callID, Upstream: t.Upstream,
			Tool: req.Params.Name, Args: args, Verdict: warden.Deny.String(), Reasons: []string{reason}})
		if err != nil {
			s.log.Error("cannot record refused call", "session", sess.id, "tool", req.Params.Name, "err", err)
		}
		return refusal("warden refused this call: " + reason), nil
	}
	pol := s.policyFor(sess.agent.Name)
	call := workflows.Call{Tool: t.Def.Name, Args: req.GetArguments(), Upstream: t.Upstream}

	d, err := s.decideCall(wctx, sess, pol, callID, t, call, args)
	if err != nil {
		s.log.Error("cannot decide or record call; refused", "session", sess.id, "tool", t.Def.Name, "err", err)
		return refusal("warden refused this call: it could not be decided and recorded"), nil
	}
	switch enforced := enforce(d.Verdict); {
	case enforced == warden.Kill:
		s.kill(wctx, sess, "verdict on "+t.Def.Name+": "+strings.Join(d.Reasons, "; "))
		return refusal(fmt.Sprintf("warden ended this session (%s): %s", d.Verdict, strings.Join(d.Reasons, "; "))), nil
	case enforced > warden.Throttle:
		return refusal(fmt.Sprintf("warden refused this call (%s): %s", d.Verdict, strings.Join(explain(d), "; "))), nil
	case d.Verdict == warden.Flag:
		s.log.Warn("call flagged", "session", sess.id, "agent", sess.agent.Name, "tool", t.Def.Name, "reasons", d.Reasons)
	}

	progress := &progressMark{}
	fctx, cancel := context.WithCancel(context.WithValue(ctx, progressKey{}, progress))
	defer cancel()
	untrack, live := sess.track(cancel)
	if !live {
		return refusal("warden refused this call: the session was ended"), nil
	}
	start := time.Now()
	res, ferr := s.hub.CallTool(fctx, req)
	latency := time.Since(start)
	untrack()
	progress.settle()
	if ferr != nil {
		res = upstreamFailure(ferr)
	}

	rd, err := s.observeResult(wctx, sess, pol, callID, t, call, d, res, ferr, latency)
	if err != nil {
		// The upstream acted, but a result that is not on record is not
		// handed over: the agent learns that, and the log says why.
		s.log.Error("cannot record result; withheld", "session", sess.id, "tool", t.Def.Name, "err", err)
		return refusal("warden withheld the result: it could not be recorded"), nil
	}
	switch enforce(rd.Verdict) {
	case warden.Kill:
		s.kill(wctx, sess, "result of "+t.Def.Name+": "+strings.Join(rd.Reasons, "; "))
		return refusal(fmt.Sprintf("warden withheld the result and ended this session: %s", strings.Join(rd.Reasons, "; "))), nil
	case warden.Deny, warden.StepUp, warden.Throttle:
		return refusal(fmt.Sprintf("warden withheld the result (%s): %s", rd.Verdict, strings.Join(rd.Reasons, "; "))), nil
	case warden.Flag:
		s.log.Warn("result flagged", "session", sess.id, "agent", sess.agent.Name, "tool", t.Def.Name, "reasons", rd.Reasons)
	}
	return res, nil
}

// decideCall runs the policy on a call and makes the call's event and the
// session's new state durable together.
func (s *Supervisor) decideCall(ctx context.Context, sess *session, pol *Policy, callID string, t tools.Tool, call workflows.Call, args json.RawMessage) (workflows.Decision, error) {
	sess.decide.Lock()
	defer sess.decide.Unlock()
	sess.mu.Lock()
	st, killed := sess.state, sess.killed
	sess.mu.Unlock()
	if killed {
		return workflows.Decision{Verdict: warden.Kill, Reasons: []string{"session already killed"}}, nil
	}
	if pol.empty() {
		// Nothing to decide with and no state to keep: allow, and record.
		_, err := s.store.Append(ctx, sess.id, store.Event{
			Kind: store.KindCall, CallID: callID, Upstream: t.Upstream, Tool: t.Def.Name,
			Args: args, Verdict: warden.Allow.String(), Data: callData(workflows.Decision{}, t),
		})
		return workflows.Decision{Verdict: warden.Allow}, err
	}
	d, next := pol.Decide(st, call, time.Now())
	if enforce(d.Verdict) > warden.Throttle && d.Verdict != warden.Kill {
		next = st // a refused call does not move the session
	}
	state, err := encodeState(next)
	if err != nil {
		return d, err
	}
	_, err = s.store.AppendWithData(ctx, sess.id, store.Event{
		Kind: store.KindCall, CallID: callID, Upstream: t.Upstream, Tool: t.Def.Name,
		Args: args, Verdict: d.Verdict.String(), Reasons: explain(d), Data: callData(d, t),
	}, state)
	if err != nil {
		return d, err
	}
	sess.mu.Lock()
	sess.state = next
	sess.mu.Unlock()
	return d, nil
}

// observeResult runs the policy's result bindings and rules and makes the
// result's event and the session's state durable together.
func (s *Supervisor) observeResult(ctx context.Context, sess *session, pol *Policy, callID string, t tools.Tool, call workflows.Call, d workflows.Decision, res *mcp.CallToolResult, ferr error, latency time.Duration) (workflows.Decision, error) {
	ev := store.Event{
		Kind: store.KindResult, CallID: callID, Upstream: t.Upstream, Tool: t.Def.Name,
		OK: !res.IsError, Size: resultSize(res), LatencyUS: latency.Microseconds(),
		Data: resultData(res),
	}
	if ferr != nil {
		ev.Error = ferr.Error()
	} else if res.IsError {
		ev.Error = clipText(allText(res), 500)
	}
	if pol.empty() {
		ev.Verdict = warden.Allow.String()
		_, err := s.store.Append(ctx, sess.id, ev)
		return workflows.Decision{Verdict: warden.Allow}, err
	}
	sess.decide.Lock()
	defer sess.decide.Unlock()
	sess.mu.Lock()
	st := sess.state
	sess.mu.Unlock()
	rd, next := pol.Observe(st, d.Steps, call, workflows.Result{Text: allText(res), Structured: res.StructuredContent, IsError: res.IsError}, time.Now())
	state, err := encodeState(next)
	if err != nil {
		return rd, err
	}
	ev.Verdict, ev.Reasons = rd.Verdict.String(), rd.Reasons
	if _, err := s.store.AppendWithData(ctx, sess.id, ev, state); err != nil {
		return rd, err
	}
	sess.mu.Lock()
	sess.state = next
	sess.mu.Unlock()
	return rd, nil
}

// enforce is the verdict as it is carried out until escalation lands:
// step_up and throttle are refused (deny), saying so.
func enforce(v warden.Verdict) warden.Verdict {
	if v == warden.StepUp || v == warden.Throttle {
		return warden.Deny
	}
	return v
}

// explain is a decision's reasons, with what warden did about a verdict it
// cannot carry out yet.
func explain(d workflows.Decision) []string {
	reasons := d.Reasons
	switch d.Verdict {
	case warden.StepUp:
		reasons = append(reasons[:len(reasons):len(reasons)], "step-up approval is not available: denied")
	case warden.Throttle:
		reasons = append(reasons[:len(reasons):len(reasons)], "throttling is not available: denied")
	}
	return reasons
}

// callData records which workflow steps a call matched, and the tool's
// own name at its upstream when agents see it under another.
func callData(d workflows.Decision, t tools.Tool) json.RawMessage {
	m := map[string]any{}
	if len(d.Steps) > 0 {
		m["steps"] = d.Steps
	}
	if t.Name != t.Def.Name {
		m["upstream_tool"] = t.Name
	}
	if len(m) == 0 {
		return nil
	}
	b, _ := json.Marshal(m)
	return b
}

// maxRecordedResult bounds the result text kept in history, enough for
// replay to see what bindings and result rules saw.
const maxRecordedResult = 64 << 10

// ResultRecord is what history keeps of a tool result, in the result
// event's Data: its text and structuredContent (text cut at 64 KiB).
type ResultRecord struct {
	Text       string `json:"text,omitempty"`
	Structured any    `json:"structured,omitempty"`
	Truncated  bool   `json:"truncated,omitempty"`
}

func resultData(res *mcp.CallToolResult) json.RawMessage {
	rec := ResultRecord{Text: allText(res), Structured: res.StructuredContent}
	if len(rec.Text) > maxRecordedResult {
		rec.Text, rec.Truncated = rec.Text[:maxRecordedResult], true
	}
	b, err := json.Marshal(rec)
	if err != nil || len(b) > 4*maxRecordedResult {
		b, _ = json.Marshal(ResultRecord{Text: rec.Text, Truncated: true})
	}
	return b
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

// allText joins a result's text contents.
func allText(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if t, ok := c.(mcp.TextContent); ok {
			if b.Len() > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(t.Text)
		}
	}
	return b.String()
}

func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
