package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/warden-dev/warden/notify"
	"github.com/warden-dev/warden/store"
)

// kill ends a session for good: it is recorded (and so survives a
// restart), the approvals its calls wait on are denied, its in-flight
// calls are cancelled (the upstream sees the cancellation), its id is
// terminated so later requests get 404, and mcp-go's own state for it is
// cleaned up (trap 3). Once started it runs to the end whatever becomes
// of ctx's caller (an admin client that hangs up): a kill that took effect
// in memory but not on record would come back at a restart.
func (s *Supervisor) kill(ctx context.Context, sess *session, reason, by string) {
	ctx = context.WithoutCancel(ctx)
	st, already := sess.stop(true)
	if already {
		return
	}
	s.obs().SessionKilled(sess.agent.Name)
	s.release(ctx, sess, st, "warden: session killed", fmt.Errorf("%w: the session was killed by %s: %s", errCancelledByWarden, by, reason))
	if _, err := s.store.Append(ctx, sess.id, store.Event{Kind: store.KindKill, Reasons: []string{reason}, Data: byData(by)}); err != nil {
		s.log.Error("cannot record kill", "session", sess.id, "err", err)
	}
	s.endSession(ctx, sess, store.StateKilled, reason)
	s.log.Warn("session killed", "session", sess.id, "agent", sess.agent.Name, "by", by, "reason", reason)
	s.alert(notify.Message{Type: notify.TypeSessionKilled, Session: sess.id, Agent: sess.agent.Name,
		RemoteAddr: sess.remote, Client: sess.client, Reasons: []string{reason}, Recent: recent(sess),
		Text: fmt.Sprintf("%s killed %s's session %s: %s", by, sess.agent.Name, sess.id, reason)})
	if sess.key == stdioSessionKey {
		// Over stdio the transport is the session: it ends with it.
		s.stopStdio(fmt.Errorf("the session was killed by %s: %s", by, reason))
		return
	}
	_, _ = s.sessions.Terminate(sess.key)
	// The kill waits for nothing more: the killing call's answer is on its
	// own stream.
	s.bg.spawn(func(ctx context.Context) { s.closeTransport(ctx, sess.key) })
}

// closeTransport runs mcp-go's clean-up of a session's transport state
// (trap 3). mcp-go has no call that closes one session, so warden serves
// it a DELETE of its own, whose answer nobody reads.
func (s *Supervisor) closeTransport(ctx context.Context, key string) {
	r, err := http.NewRequestWithContext(ctx, http.MethodDelete, "/mcp", http.NoBody)
	if err != nil {
		s.log.Error("cannot clean up a killed session's transport", "session", key, "err", err)
		return
	}
	r.Header.Set(server.HeaderKeySessionID, key)
	r.Header.Set(mcp.HeaderProtocolVersion, protocolVersions[0])
	s.http.ServeHTTP(unread{header: http.Header{}}, r)
}

// unread is the answer to warden's own requests to mcp-go, which nobody
// reads.
type unread struct{ header http.Header }

func (u unread) Header() http.Header       { return u.header }
func (unread) Write(p []byte) (int, error) { return len(p), nil }
func (unread) WriteHeader(int)             {}

// errCancelledByWarden is the cause of the cancellation of a call in
// flight whose session was killed or ended: the agent did not cancel it.
var errCancelledByWarden = errors.New("cancelled by warden")

// release lets go of a stopping session's held approvals (denied by by)
// and calls in flight (cancelled, with cause), and waits a little for
// those calls to record their results.
func (s *Supervisor) release(ctx context.Context, sess *session, st stopping, by string, cause error) {
	for _, id := range st.held {
		if _, err := s.decideApproval(ctx, id, store.DecisionDeny, by); err != nil {
			s.log.Debug("held approval not denied", "approval", id, "err", err)
		}
	}
	for _, f := range st.calls {
		f.cancel(cause)
	}
	sess.awaitIdle(ctx, killGrace)
}

// killGrace bounds how long a kill waits for its session's cancelled
// calls to record their results.
const killGrace = 2 * time.Second

// killAgent kills every live session of an agent and returns how many.
func (s *Supervisor) killAgent(ctx context.Context, agent, reason, by string) int {
	n := 0
	for _, sess := range s.sessions.all() {
		if sess.agent.Name == agent {
			s.kill(ctx, sess, reason, by)
			n++
		}
	}
	return n
}

// killRecorded kills a session by id: a live one as kill does; one that
// is only on record (warden restarted since) is marked killed there. Like
// kill, it does not stop halfway when ctx's caller goes away.
func (s *Supervisor) killRecorded(ctx context.Context, id, reason, by string) error {
	ctx = context.WithoutCancel(ctx)
	if err := s.takeOverToKill(ctx, id); err != nil {
		return err
	}
	for _, sess := range s.sessions.all() {
		if sess.id == id {
			s.kill(ctx, sess, reason, by)
			return nil
		}
	}
	rec, err := s.store.Session(ctx, id)
	if err != nil {
		return err
	}
	if rec.State == store.StateKilled {
		return nil
	}
	if _, err := s.store.Append(ctx, id, store.Event{Kind: store.KindKill, Reasons: []string{reason}, Data: byData(by)}); err != nil {
		return err
	}
	return s.store.UpdateSession(ctx, id, func(r *store.Session) error {
		r.State, r.Reason = store.StateKilled, reason
		return nil
	})
}

func byData(by string) json.RawMessage {
	b, _ := json.Marshal(map[string]string{"by": by})
	return b
}
