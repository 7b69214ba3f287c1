package supervisor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/warden-dev/warden/notify"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/workflows"
)

// progressEvery is how often a held call tells a client that gave a
// progress token that it is still waiting.
const progressEvery = 5 * time.Second

// waiters are the held calls, by approval id: a decision is handed to the
// call it binds to.
type waiters struct {
	mu sync.Mutex
	m  map[string]chan store.Approval
}

func (w *waiters) add(id string) chan store.Approval {
	w.mu.Lock()
	defer w.mu.Unlock()
	ch := make(chan store.Approval, 1)
	w.m[id] = ch
	return ch
}

func (w *waiters) remove(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.m, id)
}

func (w *waiters) deliver(a store.Approval) {
	w.mu.Lock()
	ch := w.m[a.ID]
	w.mu.Unlock()
	if ch != nil {
		select {
		case ch <- a:
		default:
		}
	}
}

// hold keeps a stepped-up call waiting for an approver: it records the
// approval durably, tells the approvers (webhook with signed links, and
// elicitation at the client when enabled), keeps the client informed with
// progress, and returns the approval as decided, or as expired when the
// timeout passes. An error means the approval could not be recorded.
func (c *call) hold(ctx context.Context, d workflows.Decision) (store.Approval, error) {
	s, sess, tool := c.s, c.sess, c.name
	timeout := s.esc.ApprovalTimeout
	if d.ApprovalTimeout > 0 {
		timeout = d.ApprovalTimeout // the step's own
	}
	now := time.Now().UTC()
	a := store.Approval{
		ID: newID(), Session: sess.id, Agent: sess.agent.Name, CallID: c.id, Tool: tool, Upstream: c.tool.Upstream,
		Args: c.args, Reasons: d.Reasons, Created: now, Expires: now.Add(timeout), State: store.ApprovalPending,
	}
	// The digest goes out with the webhook: approvers see what the
	// decision binds to.
	digest, err := store.DigestArgs(c.args)
	if err != nil {
		return a, fmt.Errorf("record approval: %w", err)
	}
	a.ArgsDigest = digest
	wctx := context.WithoutCancel(ctx)
	// Listen before the approval exists: a decision (or a kill) that comes
	// the moment it is recorded must find the held call.
	decided := s.waiting.add(a.ID)
	defer s.waiting.remove(a.ID)
	sess.holding(a.ID, true)
	defer sess.holding(a.ID, false)
	if err := s.createApproval(wctx, a); err != nil {
		return a, fmt.Errorf("record approval: %w", err)
	}

	links := map[string]string{}
	if s.links != nil {
		if l, err := s.links.links(strings.TrimRight(s.esc.PublicURL, "/")+"/v1/decide", a.ID, a.Expires); err == nil {
			links = l
		} else {
			s.log.Warn("cannot make decision links", "err", err)
		}
	}
	risk, signals := sess.riskNow(time.Now())
	s.alert(notify.Message{
		Type: notify.TypeApprovalRequested, Approval: &a, Session: sess.id, Agent: sess.agent.Name,
		RemoteAddr: sess.remote, Client: sess.client, Intent: sess.intentText(), Provenance: c.argsProvenance(), Risk: risk, Signals: signals, Reasons: d.Reasons, Recent: recent(sess), Links: links,
		Text: fmt.Sprintf("%s wants to call %s: %s (approval %s, expires %s)", sess.agent.Name, tool, strings.Join(d.Reasons, "; "), a.ID, a.Expires.Format(time.RFC3339)),
	})
	s.log.Warn("call held for approval", "session", sess.id, "agent", sess.agent.Name, "tool", tool, "approval", a.ID, "timeout", timeout)
	if s.esc.Elicitation {
		// The question is moot once the call is no longer held, or warden
		// closes.
		ectx, stop := context.WithCancel(ctx)
		defer stop()
		s.bg.spawn(func(done context.Context) {
			defer context.AfterFunc(done, stop)()
			s.elicit(ectx, sess, a)
		})
	}

	var tick <-chan time.Time
	var token mcp.ProgressToken
	if meta := c.req.Params.Meta; meta != nil && meta.ProgressToken != nil {
		token = meta.ProgressToken
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		tick = t.C
	}
	expire := time.NewTimer(timeout)
	defer expire.Stop()
	for n := 1; ; n++ {
		select {
		case got := <-decided:
			return got, nil
		case <-tick:
			_ = s.mcp.SendNotificationToClient(ctx, string(mcp.MethodNotificationProgress), map[string]any{
				"progressToken": token, "progress": n,
				"message": fmt.Sprintf("waiting for an approver (approval %s)", a.ID),
			})
			continue
		case <-expire.C:
			// Timed out: whatever was decided first stands; otherwise the
			// approval expires (and only approvals past due expire with it).
			if _, err := s.store.ExpireApprovals(wctx, time.Now(), false); err != nil {
				s.log.Error("cannot expire approval", "approval", a.ID, "err", err)
			}
		case <-ctx.Done():
			// The call is gone with its request (the agent cancelled, or
			// the connection dropped): this approval alone expires, unless
			// a decision came first.
			if _, err := s.store.ExpireApproval(wctx, a.ID, "the call was cancelled or its connection closed while held"); err != nil {
				s.log.Error("cannot expire the approval of a cancelled call", "approval", a.ID, "err", err)
			}
		}
		return s.store.Approval(wctx, a.ID)
	}
}

// decideApproval records a decision on an approval (exactly once) and hands it to
// the held call. It is the one path for the admin API, the CLI, links and
// elicitation. A decision once made is recorded and delivered whatever
// becomes of ctx's caller (an admin client that hangs up).
func (s *Supervisor) decideApproval(ctx context.Context, id, decision, by string) (store.Approval, error) {
	ctx = context.WithoutCancel(ctx)
	switch decision {
	case store.DecisionOnce, store.DecisionSession, store.DecisionDeny, store.DecisionDenyKill:
	default:
		return store.Approval{}, fmt.Errorf("%w: unknown decision %q (want %s, %s, %s or %s)", ErrInvalid, decision,
			store.DecisionOnce, store.DecisionSession, store.DecisionDeny, store.DecisionDenyKill)
	}
	if by == "" {
		return store.Approval{}, fmt.Errorf("%w: a decision records who made it; none given", ErrInvalid)
	}
	a, err := s.store.DecideApproval(ctx, id, decision, by, time.Now())
	if err != nil {
		return a, err
	}
	s.waiting.deliver(a)
	s.alert(notify.Message{
		Type: notify.TypeApprovalDecided, Approval: &a, Session: a.Session, Agent: a.Agent,
		Text: fmt.Sprintf("%s decided %s on %s's call of %s (approval %s)", by, decision, a.Agent, a.Tool, a.ID),
	})
	s.log.Info("approval decided", "approval", id, "decision", decision, "by", by)
	return a, nil
}

// elicit asks the human at the agent's client to confirm a held call, when
// the client supports elicitation; an answer decides the approval like any
// other (the first decision wins).
//
// The answer comes from the agent's own client, so it is trusted only as
// far as that client is: never for a session with any change-of-hands
// signal, whatever the configured response to it (the client is then who
// is in question), and only for this one call.
func (s *Supervisor) elicit(ctx context.Context, sess *session, a store.Approval) {
	sess.mu.Lock()
	changedHands := sess.revalidate != "" || sess.changedHands != ""
	sess.mu.Unlock()
	if changedHands {
		return
	}
	cs, ok := server.ClientSessionFromContext(ctx).(server.SessionWithClientInfo)
	if !ok || cs.GetClientCapabilities().Elicitation == nil {
		return
	}
	req := mcp.ElicitationRequest{}
	req.Params.Message = fmt.Sprintf("warden holds a call of %s by %s: %s. Allow it?", a.Tool, a.Agent, strings.Join(a.Reasons, "; "))
	req.Params.RequestedSchema = map[string]any{
		"type": "object",
		"properties": map[string]any{
			"approve": map[string]any{"type": "boolean", "title": "Allow this call", "default": false},
		},
		"required": []string{"approve"},
	}
	ectx, cancel := context.WithDeadline(ctx, a.Expires)
	defer cancel()
	res, err := s.mcp.RequestElicitation(ectx, req)
	if err != nil {
		s.log.Debug("elicitation not answered", "approval", a.ID, "err", err)
		return
	}
	decision := store.DecisionDeny
	if res.Action == mcp.ElicitationResponseActionAccept {
		if m, ok := res.Content.(map[string]any); ok && m["approve"] == true {
			decision = store.DecisionOnce
		}
	}
	by := "elicitation: the user at " + sess.client
	if _, err := s.decideApproval(context.WithoutCancel(ctx), a.ID, decision, by); err != nil && !errors.Is(err, store.ErrDecided) && !errors.Is(err, store.ErrExpired) {
		s.log.Warn("elicitation decision not recorded", "approval", a.ID, "err", err)
	}
}

// recent is the session's last calls, for an approver's context.
func recent(sess *session) []notify.RecentCall {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	out := make([]notify.RecentCall, 0, len(sess.state.Recent))
	for _, e := range sess.state.Recent {
		out = append(out, notify.RecentCall{Tool: e.Tool, Verdict: e.Verdict.String(), Time: e.At})
	}
	return out
}

// releaseHeld expires every pending approval and wakes the calls held on
// them, which then answer their agents.
func (s *Supervisor) releaseHeld(ctx context.Context) {
	s.waiting.mu.Lock()
	ids := make([]string, 0, len(s.waiting.m))
	for id := range s.waiting.m {
		ids = append(ids, id)
	}
	s.waiting.mu.Unlock()
	if !s.replicated() {
		if _, err := s.store.ExpireApprovals(ctx, time.Now(), true); err != nil {
			s.log.Error("cannot expire held approvals", "err", err)
		}
	} else {
		// Other replicas' approvals stay pending: only this one's calls go.
		for _, id := range ids {
			if _, err := s.store.ExpireApproval(ctx, id, "the warden replica holding the call stopped"); err != nil {
				s.log.Debug("held approval not expired", "approval", id, "err", err)
			}
		}
	}
	for _, id := range ids {
		if a, err := s.store.Approval(ctx, id); err == nil {
			s.waiting.deliver(a)
		}
	}
}
