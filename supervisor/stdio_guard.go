package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/warden-dev/warden/store"
)

// stdioServing is the one stdio client this process serves: over stdio
// the transport is the session, so a suspension or a kill ends it.
type stdioServing struct {
	agent string
	out   *gatedWriter
	stop  context.CancelCauseFunc // ends Listen, with why
}

// gatedWriter is stdout for the stdio client until it is shut: after
// that the client is sent nothing more, whatever is still being answered.
type gatedWriter struct {
	mu   sync.Mutex
	w    io.Writer
	shut bool
}

func (g *gatedWriter) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.shut {
		return 0, errStdioShut
	}
	return g.w.Write(p)
}

// close shuts the gate; a write under way finishes first.
func (g *gatedWriter) close() {
	g.mu.Lock()
	g.shut = true
	g.mu.Unlock()
}

var errStdioShut = errors.New("the stdio client is no longer served")

// stopStdio ends the stdio client's service with cause, once its session
// is on record as ended; nothing is sent to it from then on.
func (s *Supervisor) stopStdio(cause error) {
	if st := s.stdio.Load(); st != nil {
		st.out.close()
		st.stop(cause)
	}
}

// suspendStdio ends the stdio service of an agent that was just suspended:
// stdio has no request to refuse with 403, so a suspended agent is sent
// nothing more, its session is killed on record, and the process ends.
// It reports whether a session was killed.
func (s *Supervisor) suspendStdio(ctx context.Context, rec store.AgentRecord) bool {
	st := s.stdio.Load()
	if st == nil || st.agent != rec.Name {
		return false
	}
	st.out.close()
	reason := "agent suspended by " + rec.By + ": " + rec.Reason
	if sess := s.sessions.get(stdioSessionKey); sess != nil && sess.agent.Name == rec.Name {
		s.kill(ctx, sess, reason, rec.By) // stops the service too, once on record
		return true
	}
	st.stop(fmt.Errorf("%w: %s", errSuspended, reason))
	return false
}

// errSuspended is why a suspended agent is not served over stdio.
var errSuspended = errors.New("the agent is suspended")
