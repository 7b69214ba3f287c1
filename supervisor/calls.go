package supervisor

import (
	"context"
	"encoding/json"
	"errors"
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
	c := s.newCall(sess, req)
	ctx, span := c.startCall(ctx, req.Header)
	defer span.End()
	wctx := context.WithoutCancel(ctx) // the record is written even if the agent has gone
	t, ok := s.hub.CatalogFor(sess.id).Tool(req.Params.Name)
	if ok {
		c.found(t)
	}
	if !ok || !sess.current().sees(t) {
		// An attempt on a tool the agent cannot see is refused and recorded.
		reason := fmt.Sprintf("tool %q is not available to agent %q", req.Params.Name, sess.agent.Name)
		c.refused(wctx, warden.Deny, reason)
		return refusal("warden refused this call: " + reason), nil
	}
	if err := c.checkArgs(); err != nil {
		c.refused(wctx, warden.Deny, err.Error())
		return refusal("warden refused this call (deny): " + err.Error()), nil
	}
	if in, err := metaIntent(req.Params.Meta); err != nil {
		c.refused(wctx, warden.Deny, err.Error())
		return refusal("warden refused this call (deny): " + err.Error()), nil
	} else if in != nil {
		sess.decideMu.Lock()
		err := s.declareIntent(wctx, sess, in)
		sess.decideMu.Unlock()
		if err != nil {
			s.log.Error("cannot record a declared intent; the call is refused", "session", sess.id, "err", err)
			return refusal("warden refused this call: its declared intent could not be recorded"), nil
		}
	}

	// The arguments are read for the baseline once, for the call and for
	// its result; behaviour signals count in this call's decision.
	c.baseArgs = c.readArgs()
	s.baselineCall(wctx, sess, c.name, c.baseArgs)
	d, res := c.admit(ctx)
	if res != nil {
		return res, nil
	}
	return c.forward(ctx, d), nil
}

// admit fits the call to the rate limits, decides it and enforces the
// verdict (holding a step-up for an approver, killing on kill). It returns
// the decision, and the answer for the agent when the call must not go
// ahead.
func (c *call) admit(ctx context.Context) (workflows.Decision, *mcp.CallToolResult) {
	s, sess := c.s, c.sess
	wctx := context.WithoutCancel(ctx)
	// Rate limits: a call over the rate waits up to MaxDelay, or is
	// refused with when to retry.
	var pre []checkResult
	if wait, err := s.pace(ctx, sess); err != nil {
		c.refused(wctx, warden.Throttle, err.Error())
		return workflows.Decision{}, refusal("warden refused this call (throttle): " + err.Error())
	} else if wait > 0 {
		pre = append(pre, checkResult{warden.Throttle, fmt.Sprintf("held back %s by the rate limit", wait.Round(time.Millisecond))})
	}

	// The agent's budgets across its sessions: a unit is taken now and
	// given back unless the call goes ahead.
	spend, err := s.spendBudget(wctx, sess.agent.Name, c.name)
	if err != nil {
		c.refused(wctx, warden.Deny, err.Error())
		return workflows.Decision{}, refusal("warden refused this call (deny): " + err.Error())
	}
	defer spend.settle(wctx)

	began := time.Now()
	d, err := c.decide(wctx, pre)
	if err == nil {
		c.observeCall(d.Verdict.String(), time.Since(began))
	}
	if errors.Is(err, store.ErrAgentSuspended) {
		// Suspended on another replica, whose notice has not come yet.
		s.log.Warn("call refused: the agent was suspended on another replica", "session", sess.id, "tool", c.name)
		return d, refusal("warden refused this call: the agent is suspended")
	}
	if err != nil {
		s.log.Error("cannot decide or record call; refused", "session", sess.id, "tool", c.name, "err", err)
		return d, refusal("warden refused this call: it could not be decided and recorded")
	}
	switch {
	case d.Verdict == warden.Kill:
		s.kill(wctx, sess, "verdict on "+c.name+": "+strings.Join(d.Reasons, "; "), "warden")
		return d, refusal(fmt.Sprintf("warden ended this session (kill): %s", strings.Join(d.Reasons, "; ")))
	case d.Verdict == warden.Deny:
		return d, refusal(fmt.Sprintf("warden refused this call (deny): %s", strings.Join(d.Reasons, "; ")))
	case d.Verdict == warden.StepUp:
		if res := c.stepUp(ctx, d); res != nil {
			return d, res
		}
	case d.Verdict == warden.Throttle && len(pre) == 0:
		// A rule or workflow asked to slow this call down.
		if !sleepCtx(ctx, s.throttle.Load().maxDelay) {
			return d, refusal("warden refused this call: the agent cancelled it while it was throttled")
		}
	case d.Verdict == warden.Flag:
		s.flagged(sess, c.name, d.Reasons)
	}
	spend.keep()
	return d, nil
}

// call is one tools/call on its way through warden: whose it is, what it
// asks, and the policy that decides it. Its methods are the steps of
// callTool.
type call struct {
	s    *Supervisor
	sess *session
	req  mcp.CallToolRequest
	id   string          // the call's id in history
	name string          // the tool as the agent names it
	tool tools.Tool      // the tool, once found in the catalog
	args json.RawMessage // the arguments, as recorded
	// baseArgs is the arguments as the baseline reads them (nil: not an
	// object, or not read: the call did not reach the baseline).
	baseArgs *ToolArgs
	pol      *Policy
	wf       workflows.Call // the call as the policy sees it, once the tool is found
	kind     string         // the kind of the call's record; "" is store.KindCall (routes.go sets others)
}

func (s *Supervisor) newCall(sess *session, req mcp.CallToolRequest) *call {
	args, err := json.Marshal(req.Params.Arguments)
	if err != nil {
		args = json.RawMessage(`null`)
	}
	return &call{s: s, sess: sess, req: req, id: newID(), name: req.Params.Name, args: args, pol: s.policyFor(sess.agent.Name)}
}

// readArgs is argsOf(c.args), read from the arguments mcp-go decoded when
// c.args is their encoding (not null for arguments that would not encode),
// rather than by decoding c.args once more.
func (c *call) readArgs() *ToolArgs {
	if string(c.args) != "null" {
		if a, done := argsOfValue(c.req.Params.Arguments); done {
			return a
		}
	}
	a, _ := argsOf(c.args)
	return a
}

// found binds the call to the catalog's tool.
func (c *call) found(t tools.Tool) {
	c.tool, c.name = t, t.Def.Name
	c.wf = workflows.Call{Tool: t.Def.Name, Args: c.req.GetArguments(), Upstream: t.Upstream, Provenance: c.provenance()}
}

// event is an event of this call of the given kind.
func (c *call) event(kind string) store.Event {
	return store.Event{Kind: kind, CallID: c.id, Upstream: c.tool.Upstream, Tool: c.name}
}

// callEvent is the record of the call itself, with its verdict.
func (c *call) callEvent(d workflows.Decision) store.Event {
	kind := c.kind
	if kind == "" {
		kind = store.KindCall
	}
	ev := c.event(kind)
	ev.Args, ev.Verdict, ev.Reasons, ev.Data = c.args, d.Verdict.String(), d.Reasons, callData(d, c.tool, c.argsProvenance())
	return ev
}

// record makes ev durable; with next, it records the session's new state
// with it in the same write and moves the session there (a session
// without a policy has no state to keep). The caller holds decideMu when
// it passes next.
func (c *call) record(ctx context.Context, ev store.Event, next *workflows.State) (err error) {
	ctx, span := c.traceRecord(ctx, ev)
	defer func() { endSpan(span, err) }()
	if next == nil || c.pol.empty() {
		_, err := c.s.store.Append(ctx, c.sess.id, ev)
		return err
	}
	state, err := encodeState(*next)
	if err != nil {
		return err
	}
	if _, err := c.s.store.AppendWithData(ctx, c.sess.id, ev, state); err != nil {
		return err
	}
	c.sess.mu.Lock()
	c.sess.state = *next
	c.sess.mu.Unlock()
	return nil
}

// refused records a call refused before the policy ran.
func (c *call) refused(ctx context.Context, v warden.Verdict, reason string) {
	c.observeCall(v.String(), 0)
	ev := c.callEvent(workflows.Decision{Verdict: v, Reasons: []string{reason}})
	ev.Data = markRefused(ev.Data)
	if err := c.record(ctx, ev, nil); err != nil {
		c.s.log.Error("cannot record refused call", "session", c.sess.id, "tool", c.name, "err", err)
	}
}

// checkResult is a verdict from a check outside the policy (rate limits).
type checkResult struct {
	verdict warden.Verdict
	reason  string
}

// decide runs the policy on the call and makes the call's event and the
// session's new state durable together.
func (c *call) decide(ctx context.Context, pre []checkResult) (workflows.Decision, error) {
	sess := c.sess
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
		return d, c.record(ctx, c.callEvent(d), nil)
	}
	dctx, span := c.s.span(ctx, "warden.decide")
	var d workflows.Decision
	next := st
	if !c.pol.empty() {
		d, next = c.pol.Decide(st, c.wf, time.Now())
	}
	for _, r := range pre {
		d.Raise(r.verdict, r.reason)
	}
	if revalidate != "" {
		d.Raise(warden.StepUp, revalidate)
	}
	if ch, ok := c.s.changedFor(sess)[c.name]; ok {
		d.Raise(warden.StepUp, ch.stepUpReason(c.name))
	}
	if moved, err := c.judge(dctx, st, &d); err != nil {
		endSpan(span, err)
		return d, err
	} else if moved && d.Verdict == warden.Allow {
		next = d.Approved() // the judge cleared it: the call goes ahead as approved
	}
	if by, ok := sess.approvedFor(c.step(d), d.Reasons, c.args); ok && d.Verdict == warden.StepUp && revalidate == "" {
		d.Verdict = warden.Allow
		d.Reasons = append(d.Reasons, "approved for this session by "+by)
		next = d.Approved()
	}
	if d.Verdict > warden.Throttle && d.Verdict != warden.Kill || c.stays(d) {
		next = st // a refused or held call does not move the session (yet)
	}
	endSpan(span, nil)
	return d, c.record(ctx, c.callEvent(d), &next)
}

// stays reports whether the session keeps its state after this call was
// decided d: a completion takes no step (nor binds its result), unless it
// killed the session.
func (c *call) stays(d workflows.Decision) bool {
	return c.kind == store.KindCompletion && d.Verdict != warden.Kill
}

// step is what an approval "for the session" of this call covers: its
// workflow step, and in it only this tool, resource URI or prompt. A
// step's pattern names many, and a guard may read the name (call.uri)
// rather than an argument: the approver saw this one.
func (c *call) step(d workflows.Decision) string {
	return d.Step + "\x00" + c.name
}

// stepUp holds the call for an approver. It returns nil when the call was
// approved and may go ahead, else the answer to give the agent.
func (c *call) stepUp(ctx context.Context, d workflows.Decision) *mcp.CallToolResult {
	s, sess := c.s, c.sess
	why := strings.Join(d.Reasons, "; ")
	if !s.esc.Approvals {
		return refusal("warden refused this call (step_up): " + why + "; no approver is configured, so it is denied")
	}
	wctx := context.WithoutCancel(ctx)
	release, over := c.reservePending(wctx)
	if over != nil {
		return over
	}
	defer release()
	hctx, span := c.s.span(ctx, "warden.hold")
	a, err := c.hold(hctx, d)
	endSpan(span, err)
	if errors.Is(err, store.ErrOverLimit) {
		return c.notHeld(wctx, fmt.Sprintf("agent %q already has as many calls waiting for an approver as its limit, across replicas", sess.agent.Name))
	}
	if err != nil {
		s.log.Error("cannot hold call for approval; refused", "session", sess.id, "tool", c.name, "err", err)
		return refusal("warden refused this call (step_up): it could not be held for approval")
	}
	s.obs().ApprovalSettled(sess.agent.Name, a.State, approvalWait(a))
	ev := c.event(store.KindApproval)
	ev.Verdict, ev.Reasons = a.State, []string{approvalSummary(a)}
	if a.State == store.ApprovalApproved {
		// The session may have moved while the call was held: decide again
		// on its state now. The approval waives this step-up; nothing
		// stronger (a deny, a kill, a rule that now refuses) is waived.
		if res := c.proceedApproved(wctx, ev); res != nil {
			return res
		}
		if a.Decision == store.DecisionSession {
			sess.approve(c.step(d), a.DecidedBy, d.Reasons, pinArgs(d.Reads, c.args))
		}
		return nil
	}
	// Any other outcome is on record before it takes effect. One that
	// cannot be recorded refuses the call all the same, and the agent
	// learns why; a kill the approver asked for stands either way.
	err = c.record(wctx, ev, nil)
	if err != nil {
		s.log.Error("cannot record approval outcome; refused", "session", sess.id, "approval", a.ID, "err", err)
	}
	kill := a.State == store.ApprovalDenied && a.Decision == store.DecisionDenyKill
	if kill {
		s.kill(wctx, sess, "approver "+a.DecidedBy+" denied "+c.name+" and ended the session", a.DecidedBy)
	}
	switch {
	case err != nil:
		return refusal(fmt.Sprintf("warden refused this call (step_up): the outcome of its approval (%s) could not be recorded", a.State))
	case kill:
		return refusal("warden ended this session: an approver denied this call (" + why + ")")
	case a.State == store.ApprovalDenied:
		return refusal("warden refused this call: an approver denied it (" + why + ")")
	default:
		return refusal(fmt.Sprintf("warden refused this call (step_up): no approver decided within %s (%s)", a.Expires.Sub(a.Created).Round(time.Second), why))
	}
}

// proceedApproved moves the session for an approved call: under the
// session's decision lock it decides the call again on the current state,
// and records the approval (ev) with the state the call leaves. It returns
// the answer for the agent when the call must not go ahead after all.
func (c *call) proceedApproved(ctx context.Context, ev store.Event) *mcp.CallToolResult {
	sess := c.sess
	sess.decideMu.Lock()
	defer sess.decideMu.Unlock()
	sess.mu.Lock()
	st, gone := sess.state, sess.killed || sess.ended
	sess.mu.Unlock()
	if gone {
		if err := c.record(ctx, ev, nil); err != nil {
			c.s.log.Error("cannot record approval", "session", sess.id, "err", err)
		}
		return refusal("warden refused this call: the session ended while it was held")
	}
	if why, suspended := c.s.suspendedNow(sess.agent.Name); suspended {
		return c.refuseApproved(ctx, ev, why)
	}
	next := st
	if !c.pol.empty() {
		d2, after := c.pol.Decide(st, c.wf, time.Now())
		switch {
		case d2.Verdict > warden.StepUp:
			ev.Reasons = append(ev.Reasons, "decided again after approval: "+d2.Verdict.String()+": "+strings.Join(d2.Reasons, "; "))
			ev.Verdict = d2.Verdict.String()
			if err := c.record(ctx, ev, nil); err != nil {
				c.s.log.Error("cannot record approval", "session", sess.id, "err", err)
			}
			return refusal(fmt.Sprintf("warden refused this call after its approval (%s): %s", d2.Verdict, strings.Join(d2.Reasons, "; ")))
		case d2.Verdict == warden.StepUp:
			next = d2.Approved()
		default:
			next = after
		}
	}
	if err := c.record(ctx, ev, &next); err != nil {
		if errors.Is(err, store.ErrAgentSuspended) {
			return c.refuseApproved(ctx, ev, "the agent was suspended (on another replica)")
		}
		c.s.log.Error("cannot record approval; refused", "session", sess.id, "err", err)
		return refusal("warden refused this call: its approval could not be recorded")
	}
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

// flagged logs and alerts a flagged call or result; it goes ahead.
func (s *Supervisor) flagged(sess *session, tool string, reasons []string) {
	s.log.Warn("flagged", "session", sess.id, "agent", sess.agent.Name, "tool", tool, "reasons", reasons)
	s.alert(notify.Message{Type: notify.TypeCallFlagged, Session: sess.id, Agent: sess.agent.Name,
		RemoteAddr: sess.remote, Client: sess.client, Reasons: reasons, Recent: recent(sess),
		Text: fmt.Sprintf("%s's call of %s was flagged: %s", sess.agent.Name, tool, strings.Join(reasons, "; "))})
}

// forwarded is what came back from the upstream for a call.
type forwarded struct {
	res     *mcp.CallToolResult
	size    int
	err     error // why there is no result from the upstream
	latency time.Duration
}

// forward sends the decided call d upstream (a kill of the session
// cancels it there), records and judges the result, and returns the
// answer for the agent.
func (c *call) forward(ctx context.Context, d workflows.Decision) *mcp.CallToolResult {
	return c.relay(ctx, d, func(fctx context.Context) (*mcp.CallToolResult, int, error) {
		return c.s.hub.CallTool(fctx, c.sess.who(), c.req)
	})
}

// relayFunc sends a call upstream and returns its result as the policy
// sees it, and its size.
type relayFunc func(ctx context.Context) (*mcp.CallToolResult, int, error)

// relay is forward with send doing the sending.
func (c *call) relay(ctx context.Context, d workflows.Decision, send relayFunc) *mcp.CallToolResult {
	progress := &progressMark{}
	fctx, cancel := context.WithCancelCause(context.WithValue(ctx, progressKey{}, progress))
	defer cancel(nil)
	tracked, live := c.sess.track(cancel)
	if !live {
		return refusal("warden refused this call: the session was ended")
	}
	start := time.Now()
	var f forwarded
	uctx, span := c.traceUpstream(fctx)
	f.res, f.size, f.err = send(uctx)
	endUpstream(span, f.res, f.err)
	f.latency = time.Since(start)
	c.s.obs().UpstreamCalled(c.tool.Upstream, c.toolLabel(), f.latency, f.err != nil)
	progress.settle()
	if cause := context.Cause(fctx); f.err != nil && errors.Is(cause, errCancelledByWarden) {
		// The upstream saw a cancellation; the agent and the record learn
		// that warden made it, and why.
		f.err, f.res = cause, refusal("this call was "+cause.Error())
	} else if f.err != nil {
		f.res = upstreamFailure(f.err)
	}

	// The call counts as in flight until its result is on record, so that
	// a kill records the session's end after it.
	wctx := context.WithoutCancel(ctx)
	rd, err := c.observeResult(wctx, d, f)
	c.sess.untrack(tracked)
	if err == nil && c.kind == "" && f.err == nil {
		c.s.baselineResult(wctx, c.sess, c.name, c.baseArgs, f.size)
	}
	if err != nil {
		// The upstream acted, but a result that is not on record is not
		// handed over: the agent learns that, and the log says why.
		c.s.log.Error("cannot record result; withheld", "session", c.sess.id, "tool", c.name, "err", err)
		return refusal("warden withheld the result: it could not be recorded")
	}
	switch {
	case rd.Verdict == warden.Kill:
		c.s.kill(wctx, c.sess, "result of "+c.name+": "+strings.Join(rd.Reasons, "; "), "warden")
		return refusal(fmt.Sprintf("warden withheld the result and ended this session: %s", strings.Join(rd.Reasons, "; ")))
	case rd.Verdict > warden.Flag:
		return refusal(fmt.Sprintf("warden withheld the result (%s): %s", rd.Verdict, strings.Join(rd.Reasons, "; ")))
	case rd.Verdict == warden.Flag:
		c.s.flagged(c.sess, c.name, rd.Reasons)
	}
	return f.res
}

// observeResult runs the policy's result bindings and rules on what the
// call decided as d got back, and makes the result's event and the
// session's state durable together.
func (c *call) observeResult(ctx context.Context, d workflows.Decision, f forwarded) (workflows.Decision, error) {
	// The result's text is read once, for the record, the rules and the
	// provenance of later calls.
	text := allText(f.res)
	ev := c.event(store.KindResult)
	ev.OK, ev.Size, ev.LatencyUS, ev.Data = !f.res.IsError, f.size, f.latency.Microseconds(), c.sess.current().resultData(c.name, f.res, text)
	if f.err != nil {
		ev.Error = f.err.Error()
	} else if f.res.IsError {
		ev.Error = clipText(text, 500)
	}
	if c.pol.empty() {
		ev.Verdict = warden.Allow.String()
		return workflows.Decision{Verdict: warden.Allow}, c.record(ctx, ev, nil)
	}
	sess := c.sess
	sess.decideMu.Lock()
	defer sess.decideMu.Unlock()
	sess.mu.Lock()
	st := sess.state
	sess.mu.Unlock()
	rd, next := c.pol.Observe(st, d.Steps, c.wf, workflows.Result{Text: text, Structured: f.res.StructuredContent, IsError: f.res.IsError}, time.Now())
	if c.stays(rd) {
		next = st
	}
	if rd.Verdict <= warden.Flag && c.wf.Provenance != nil {
		// What the agent is handed is where its next values may come from.
		sess.prov.observe(c.name, f.res.StructuredContent, text, rd.Parsed())
	}
	ev.Verdict, ev.Reasons = rd.Verdict.String(), rd.Reasons
	if rd.Verdict > warden.Flag {
		sess.current().withheld(&ev, f.res, rd.Rules)
	}
	return rd, c.record(ctx, ev, &next)
}

// callData records which workflow steps a call matched, the tool's own
// name at its upstream when agents see it under another, and where each
// argument came from when the policy tracks it.
func callData(d workflows.Decision, t tools.Tool, prov map[string][]string) json.RawMessage {
	if len(d.Steps) == 0 && prov == nil && t.Name == t.Def.Name {
		return nil // most calls of an agent without a workflow: no map to make
	}
	m := map[string]any{}
	if len(d.Steps) > 0 {
		m["steps"] = d.Steps
	}
	if prov != nil {
		m["provenance"] = prov
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
// and length of the result's JSON. A result that result rules withheld
// is recorded as a digest too, with Withheld and the rules that fired.
type ResultRecord struct {
	Text       string   `json:"text,omitempty"`
	Structured any      `json:"structured,omitempty"`
	Truncated  bool     `json:"truncated,omitempty"`
	SHA256     string   `json:"sha256,omitempty"`
	Bytes      int      `json:"bytes,omitempty"`
	Withheld   bool     `json:"withheld,omitempty"`
	Rules      []string `json:"rules,omitempty"`
}

func resultData(res *mcp.CallToolResult, text string) json.RawMessage {
	rec := ResultRecord{Text: text, Structured: res.StructuredContent}
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

// allText joins a result's text contents, and the text of resources
// embedded in it: result rules see a secret whichever way it comes back.
// A result of one content (most are) is its text, not a copy of it.
func allText(res *mcp.CallToolResult) string {
	if len(res.Content) == 1 {
		text, _ := contentText(res.Content[0])
		return text
	}
	var b strings.Builder
	for _, c := range res.Content {
		text, ok := contentText(c)
		if !ok {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(text)
	}
	return b.String()
}

// contentText is the text of a text content or of an embedded text
// resource; ok is false for other content.
func contentText(c mcp.Content) (text string, ok bool) {
	switch t := c.(type) {
	case mcp.TextContent:
		return t.Text, true
	case mcp.EmbeddedResource:
		r, ok := t.Resource.(mcp.TextResourceContents)
		return r.Text, ok
	}
	return "", false
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
