package supervisor

import (
	"context"
	"net/http"
	"net/http/httptest"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/warden-dev/warden/store"
)

// kill ends a session for good: it is recorded (and so survives a
// restart), its in-flight calls are cancelled (the upstream sees the
// cancellation), its id is terminated so later requests get 404, and
// mcp-go's own state for it is cleaned up (trap 3).
func (s *Supervisor) kill(ctx context.Context, sess *session, reason string) {
	sess.mu.Lock()
	already := sess.killed
	sess.killed = true
	calls := make([]*inflight, 0, len(sess.inflight))
	for f := range sess.inflight {
		calls = append(calls, f)
	}
	sess.mu.Unlock()
	if already {
		return
	}
	for _, f := range calls {
		f.cancel()
	}
	if _, err := s.store.Append(ctx, sess.id, store.Event{Kind: store.KindKill, Reasons: []string{reason}}); err != nil {
		s.log.Error("cannot record kill", "session", sess.id, "err", err)
	}
	s.endSession(ctx, sess, store.StateKilled, reason)
	s.log.Warn("session killed", "session", sess.id, "agent", sess.agent.Name, "reason", reason)
	if sess.key == stdioSessionKey {
		return
	}
	_, _ = s.sessions.Terminate(sess.key)
	// mcp-go has no call that closes one session; a DELETE of our own runs
	// its cleanup. It waits for nothing: the killing call's answer is on its
	// own stream.
	go func() {
		r := httptest.NewRequest(http.MethodDelete, "/mcp", nil)
		r.Header.Set(server.HeaderKeySessionID, sess.key)
		r.Header.Set(mcp.HeaderProtocolVersion, protocolVersions[0])
		s.http.ServeHTTP(httptest.NewRecorder(), r)
	}()
}
