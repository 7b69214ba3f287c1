package supervisor

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/warden-dev/warden"
	"github.com/warden-dev/warden/notify"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/tools"
	"github.com/warden-dev/warden/workflows"
)

// callTool is the path of one tools/call: fit it to the rate limits,
// decide, record the call and the session's new state durably, enforce the
// verdict (holding a step-up for an approver), forward, observe the
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
		s.recordRefusal(wctx, sess, callID, t.Upstream, req.Params.Name, args, warden.Deny, reason)
		return refusal("warden refused this call: " + reason), nil
	}

	// Rate limits: a call over the rate waits up to MaxDelay, or is
	// refused with when to retry.
	var pre []checkResult
	if wait, err := s.pace(ctx, sess); err != nil {
		s.recordRefusal(wctx, sess, callID, t.Upstream, t.Def.Name, args, warden.Throttle, err.Error())
		return refusal("warden refused this call (throttle): " + err.Error()), nil
	} else if wait > 0 {
		pre = append(pre, checkResult{warden.Throttle, fmt.Sprintf("held back %s by the rate limit", wait.Round(time.Millisecond))})
	}

	pol := s.policyFor(sess.agent.Name)
	call := workflows.Call{Tool: t.Def.Name, Args: req.GetArguments(), Upstream: t.Upstream}
	d, err := s.decideCall(wctx, sess, pol, callID, t, call, args, pre)
	if err != nil {
		s.log.Error("cannot decide or record call; refused", "session", sess.id, "tool", t.Def.Name, "err", err)
		return refusal("warden refused this call: it could not be decided and recorded"), nil
	}
	switch {
	case d.Verdict == warden.Kill:
		s.kill(wctx, sess, "verdict on "+t.Def.Name+": "+strings.Join(d.Reasons, "; "), "warden")
		return refusal(fmt.Sprintf("warden ended this session (kill): %s", strings.Join(d.Reasons, "; "))), nil
	case d.Verdict == warden.Deny:
		return refusal(fmt.Sprintf("warden refused this call (deny): %s", strings.Join(d.Reasons, "; "))), nil
	case d.Verdict == warden.StepUp:
		if res := s.stepUp(ctx, sess, pol, req, call, callID, t, args, d); res != nil {
			return res, nil
		}
	case d.Verdict == warden.Throttle && len(pre) == 0:
		// A rule or workflow asked to slow this call down.
		if !sleepCtx(ctx, s.esc.MaxDelay) {
			return refusal("warden refused this call: the agent cancelled it while it was throttled"), nil
		}
	case d.Verdict == warden.Flag:
		s.flagged(sess, t.Def.Name, d.Reasons)
	}

	progress := &progressMark{}
	fctx, cancel := context.WithCancel(context.WithValue(ctx, progressKey{}, progress))
	defer cancel()
	untrack, live := sess.track(cancel)
	if !live {
		return refusal("warden refused this call: the session was ended"), nil
	}
	start := time.Now()
	res, size, ferr := s.hub.CallTool(fctx, req)
	latency := time.Since(start)
	progress.settle()
	if ferr != nil {
		res = upstreamFailure(ferr)
	}

	// The call counts as in flight until its result is on record, so that
	// a kill records the session's end after it.
	rd, err := s.observeResult(wctx, sess, pol, callID, t, call, d, res, size, ferr, latency)
	untrack()
	if err != nil {
		// The upstream acted, but a result that is not on record is not
		// handed over: the agent learns that, and the log says why.
		s.log.Error("cannot record result; withheld", "session", sess.id, "tool", t.Def.Name, "err", err)
		return refusal("warden withheld the result: it could not be recorded"), nil
	}
	switch {
	case rd.Verdict == warden.Kill:
		s.kill(wctx, sess, "result of "+t.Def.Name+": "+strings.Join(rd.Reasons, "; "), "warden")
		return refusal(fmt.Sprintf("warden withheld the result and ended this session: %s", strings.Join(rd.Reasons, "; "))), nil
	case rd.Verdict > warden.Flag:
		return refusal(fmt.Sprintf("warden withheld the result (%s): %s", rd.Verdict, strings.Join(rd.Reasons, "; "))), nil
	case rd.Verdict == warden.Flag:
		s.flagged(sess, t.Def.Name, rd.Reasons)
	}
	return res, nil
}

// checkResult is a verdict from a check outside the policy (rate limits).
type checkResult struct {
	verdict warden.Verdict
	reason  string
}

// stepUp holds a call for an approver. It returns nil when the call was
// approved and may go ahead, else the answer to give the agent.
func (s *Supervisor) stepUp(ctx context.Context, sess *session, pol *Policy, req mcp.CallToolRequest, call workflows.Call, callID string, t tools.Tool, args json.RawMessage, d workflows.Decision) *mcp.CallToolResult {
	why := strings.Join(d.Reasons, "; ")
	if !s.esc.Approvals {
		return refusal("warden refused this call (step_up): " + why + "; no approver is configured, so it is denied")
	}
	wctx := context.WithoutCancel(ctx)
	a, err := s.hold(ctx, sess, req, callID, t.Def.Name, t.Upstream, args, d)
	if err != nil {
		s.log.Error("cannot hold call for approval; refused", "session", sess.id, "tool", t.Def.Name, "err", err)
		return refusal("warden refused this call (step_up): it could not be held for approval")
	}
	step := d.Step
	if step == "" {
		step = t.Def.Name
	}
	ev := store.Event{Kind: store.KindApproval, CallID: callID, Upstream: t.Upstream, Tool: t.Def.Name,
		Verdict: a.State, Reasons: []string{approvalSummary(a)}}
	if a.State != store.ApprovalApproved {
		// The outcome is on record before the agent hears of it.
		if _, err := s.store.Append(wctx, sess.id, ev); err != nil {
			s.log.Error("cannot record approval outcome", "session", sess.id, "err", err)
		}
	}
	switch {
	case a.State == store.ApprovalApproved:
		// The session may have moved while the call was held: decide again
		// on its state now. The approval waives this step-up; nothing
		// stronger (a deny, a kill, a rule that now refuses) is waived.
		if res := s.proceedApproved(wctx, sess, pol, t, call, ev); res != nil {
			return res
		}
		if a.Decision == store.DecisionSession {
			sess.approve(step, a.DecidedBy, d.Reasons)
		}
		return nil
	case a.State == store.ApprovalDenied && a.Decision == store.DecisionDenyKill:
		s.kill(wctx, sess, "approver "+a.DecidedBy+" denied "+t.Def.Name+" and ended the session", a.DecidedBy)
		return refusal("warden ended this session: an approver denied this call (" + why + ")")
	case a.State == store.ApprovalDenied:
		return refusal("warden refused this call: an approver denied it (" + why + ")")
	default:
		return refusal(fmt.Sprintf("warden refused this call (step_up): no approver decided within %s (%s)", a.Expires.Sub(a.Created).Round(time.Second), why))
	}
}

// proceedApproved moves the session for an approved call: under the
// session's decision lock it decides the call again on the current state,
// and records the approval with the state the call leaves. It returns the
// answer for the agent when the call must not go ahead after all.
func (s *Supervisor) proceedApproved(ctx context.Context, sess *session, pol *Policy, t tools.Tool, call workflows.Call, ev store.Event) *mcp.CallToolResult {
	sess.decideMu.Lock()
	defer sess.decideMu.Unlock()
	sess.mu.Lock()
	st, gone := sess.state, sess.killed || sess.ended
	sess.mu.Unlock()
	if gone {
		_, _ = s.store.Append(ctx, sess.id, ev)
		return refusal("warden refused this call: the session ended while it was held")
	}
	next := st
	if !pol.empty() {
		d2, after := pol.Decide(st, call, time.Now())
		switch {
		case d2.Verdict > warden.StepUp:
			ev.Reasons = append(ev.Reasons, "decided again after approval: "+d2.Verdict.String()+": "+strings.Join(d2.Reasons, "; "))
			ev.Verdict = d2.Verdict.String()
			_, _ = s.store.Append(ctx, sess.id, ev)
			return refusal(fmt.Sprintf("warden refused this call after its approval (%s): %s", d2.Verdict, strings.Join(d2.Reasons, "; ")))
		case d2.Verdict == warden.StepUp:
			next = d2.Approved()
		default:
			next = after
		}
	}
	var err error
	if pol.empty() {
		_, err = s.store.Append(ctx, sess.id, ev)
	} else {
		var state json.RawMessage
		if state, err = encodeState(next); err == nil {
			_, err = s.store.AppendWithData(ctx, sess.id, ev, state)
		}
	}
	if err != nil {
		s.log.Error("cannot record approval; refused", "session", sess.id, "err", err)
		return refusal("warden refused this call: its approval could not be recorded")
	}
	sess.mu.Lock()
	sess.state = next
	sess.mu.Unlock()
	return nil
}

func approvalSummary(a store.Approval) string {
	switch a.State {
	case store.ApprovalExpired:
		return fmt.Sprintf("approval %s expired undecided", a.ID)
	default:
		return fmt.Sprintf("approval %s: %s by %s", a.ID, a.Decision, a.DecidedBy)
	}
}

// recordRefusal records a call refused before the policy ran.
func (s *Supervisor) recordRefusal(ctx context.Context, sess *session, callID, upstream, tool string, args json.RawMessage, v warden.Verdict, reason string) {
	_, err := s.store.Append(ctx, sess.id, store.Event{Kind: store.KindCall, CallID: callID, Upstream: upstream,
		Tool: tool, Args: args, Verdict: v.String(), Reasons: []string{reason}})
	if err != nil {
		s.log.Error("cannot record refused call", "session", sess.id, "tool", tool, "err", err)
	}
}

// flagged logs and alerts a flagged call or result; it goes ahead.
func (s *Supervisor) flagged(sess *session, tool string, reasons []string) {
	s.log.Warn("flagged", "session", sess.id, "agent", sess.agent.Name, "tool", tool, "reasons", reasons)
	s.alert(notify.Message{Type: notify.TypeCallFlagged, Session: sess.id, Agent: sess.agent.Name,
		RemoteAddr: sess.remote, Client: sess.client, Reasons: reasons, Recent: recent(sess),
		Text: fmt.Sprintf("%s's call of %s was flagged: %s", sess.agent.Name, tool, strings.Join(reasons, "; "))})
}

// decideCall runs the policy on a call and makes the call's event and the
// session's new state durable together.
func (s *Supervisor) decideCall(ctx context.Context, sess *session, pol *Policy, callID string, t tools.Tool, call workflows.Call, args json.RawMessage, pre []checkResult) (workflows.Decision, error) {
	sess.decideMu.Lock()
	defer sess.decideMu.Unlock()
	sess.mu.Lock()
	st, killed, ended, revalidate := sess.state, sess.killed, sess.ended, sess.revalidate
	sess.mu.Unlock()
	if killed || ended {
		d := workflows.Decision{Verdict: warden.Deny, Reasons: []string{"session already ended"}}
		if killed {
			d = workflows.Decision{Verdict: warden.Kill, Reasons: []string{"session already killed"}}
		}
		_, err := s.store.Append(ctx, sess.id, store.Event{Kind: store.KindCall, CallID: callID, Upstream: t.Upstream,
			Tool: t.Def.Name, Args: args, Verdict: d.Verdict.String(), Reasons: d.Reasons})
		return d, err
	}
	var d workflows.Decision
	next := st
	if !pol.empty() {
		d, next = pol.Decide(st, call, time.Now())
	}
	for _, c := range pre {
		d.Raise(c.verdict, c.reason)
	}
	if revalidate != "" {
		d.Raise(warden.StepUp, revalidate)
	}
	if ch, ok := s.changedTools()[t.Def.Name]; ok {
		d.Raise(warden.StepUp, ch.stepUpReason(t.Def.Name))
	}
	step := d.Step
	if step == "" {
		step = t.Def.Name
	}
	if by, ok := sess.approvedFor(step, d.Reasons); ok && d.Verdict == warden.StepUp && revalidate == "" {
		d.Verdict = warden.Allow
		d.Reasons = append(d.Reasons, "approved for this session by "+by)
		next = d.Approved()
	}
	if d.Verdict > warden.Throttle && d.Verdict != warden.Kill {
		next = st // a refused or held call does not move the session (yet)
	}
	if pol.empty() {
		// No policy: no state to keep.
		_, err := s.store.Append(ctx, sess.id, store.Event{
			Kind: store.KindCall, CallID: callID, Upstream: t.Upstream, Tool: t.Def.Name,
			Args: args, Verdict: d.Verdict.String(), Reasons: d.Reasons, Data: callData(d, t),
		})
		return d, err
	}
	state, err := encodeState(next)
	if err != nil {
		return d, err
	}
	_, err = s.store.AppendWithData(ctx, sess.id, store.Event{
		Kind: store.KindCall, CallID: callID, Upstream: t.Upstream, Tool: t.Def.Name,
		Args: args, Verdict: d.Verdict.String(), Reasons: d.Reasons, Data: callData(d, t),
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
func (s *Supervisor) observeResult(ctx context.Context, sess *session, pol *Policy, callID string, t tools.Tool, call workflows.Call, d workflows.Decision, res *mcp.CallToolResult, size int, ferr error, latency time.Duration) (workflows.Decision, error) {
	ev := store.Event{
		Kind: store.KindResult, CallID: callID, Upstream: t.Upstream, Tool: t.Def.Name,
		OK: !res.IsError, Size: size, LatencyUS: latency.Microseconds(),
		Data: sess.agent.resultData(t.Def.Name, res),
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
	sess.decideMu.Lock()
	defer sess.decideMu.Unlock()
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
// event's Data: its text and structuredContent (text cut at 64 KiB), or,
// for a tool whose results are recorded as a digest, only the SHA-256
// and length of the result's JSON.
type ResultRecord struct {
	Text       string `json:"text,omitempty"`
	Structured any    `json:"structured,omitempty"`
	Truncated  bool   `json:"truncated,omitempty"`
	SHA256     string `json:"sha256,omitempty"`
	Bytes      int    `json:"bytes,omitempty"`
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

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
