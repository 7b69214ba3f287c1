package supervisor

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"

	"github.com/warden-dev/warden"
	"github.com/warden-dev/warden/notify"
	"github.com/warden-dev/warden/store"
)

// revalidate checks that a request on a live session comes from where the
// session started: the same remote address (IP; ports change with every
// connection) and user agent. A change is recorded and answered as
// configured: flag, step up every later call until an approver allows the
// session again, or kill. It reports whether the request may go on.
func (s *Supervisor) revalidate(r *http.Request, sess *session) bool {
	ip, ua := hostOf(r.RemoteAddr), r.UserAgent()
	sess.mu.Lock()
	if sess.seenIP == "" && sess.seenUA == "" {
		sess.seenIP, sess.seenUA = hostOf(sess.remote), sess.userAgent
	}
	var what, signal string
	switch {
	case ip != sess.seenIP:
		what, signal = fmt.Sprintf("remote address changed mid-session from %s to %s", sess.seenIP, ip), SignalAddressChanged
	case ua != sess.seenUA:
		what, signal = fmt.Sprintf("user agent changed mid-session from %q to %q", sess.seenUA, ua), SignalUserAgentChanged
	}
	sess.seenIP, sess.seenUA = ip, ua
	if what != "" && s.esc.OnChange == warden.StepUp {
		sess.revalidate = what + ": every call needs an approver until one allows the session again"
	}
	sess.mu.Unlock()
	if what == "" {
		return true
	}
	sess.handsChanged(what)
	ctx := context.WithoutCancel(r.Context())
	if err := s.raise(ctx, sess, signal, what, s.esc.OnChange.String(), true); err != nil {
		s.log.Error("cannot record a session change", "session", sess.id, "err", err)
	}
	s.log.Warn("session changed hands", "session", sess.id, "agent", sess.agent.Name, "change", what, "response", s.esc.OnChange)
	if s.esc.OnChange == warden.Kill {
		s.kill(ctx, sess, what, "warden")
		return false
	}
	s.alert(notify.Message{Type: notify.TypeCallFlagged, Session: sess.id, Agent: sess.agent.Name, RemoteAddr: r.RemoteAddr,
		Client: sess.client, Reasons: []string{what}, Text: fmt.Sprintf("%s's session %s: %s", sess.agent.Name, sess.id, what)})
	return true
}

func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// handsChanged records a change-of-hands signal on the session, whatever
// the response to it: every signal saying that the client may no longer
// be the one that started the session calls it, so that the client is
// never asked to approve the session's calls (see elicit).
func (s *session) handsChanged(what string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.changedHands == "" {
		s.changedHands = what
	}
}

// changedHandsOnRecord returns the first change of hands recorded in a
// session's history, or "".
func changedHandsOnRecord(evs []store.Event) string {
	for _, e := range evs {
		if e.Kind != store.KindSignal || len(e.Data) == 0 {
			continue
		}
		var m struct {
			ChangedHands bool `json:"changed_hands"`
		}
		if json.Unmarshal(e.Data, &m) == nil && m.ChangedHands && len(e.Reasons) > 0 {
			return e.Reasons[0]
		}
	}
	return ""
}
