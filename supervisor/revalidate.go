package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/warden-dev/warden"
	"github.com/warden-dev/warden/geo"
	"github.com/warden-dev/warden/notify"
	"github.com/warden-dev/warden/store"
)

// revalidate checks that a request on a live session comes from where the
// session started: the same client address (IP, see clientAddr; ports
// change with every connection) and user agent. With geolocation, a move
// to another country or autonomous system is a reason of its own, with
// both places as evidence. A change is recorded and answered as
// configured: flag, step up every later call until an approver allows
// the session again, or kill. It reports whether the request may go on.
// remote and fp are the client's address and TLS fingerprint (front: from
// the request, or from a forwarding replica's claim).
func (s *Supervisor) revalidate(r *http.Request, sess *session, remote, fp string) bool {
	ip, ua := hostOf(remote), r.UserAgent()
	sess.mu.Lock()
	if sess.seenIP == "" && sess.seenUA == "" {
		sess.seenIP, sess.seenUA = hostOf(sess.remote), sess.userAgent
	}
	if sess.seenFP == "" {
		sess.seenFP = fp
	}
	var reasons []string
	var moved *geoMove
	signal := SignalAddressChanged
	switch {
	case ip != sess.seenIP:
		reasons = append(reasons, fmt.Sprintf("remote address changed mid-session from %s to %s", sess.seenIP, ip))
		if moved = s.geoMove(sess.seenIP, ip); moved != nil {
			reasons = append(reasons, moved.String())
			signal = SignalLocationChanged
		}
	case ua != sess.seenUA:
		reasons = append(reasons, fmt.Sprintf("user agent changed mid-session from %q to %q", sess.seenUA, ua))
		signal = SignalUserAgentChanged
	case fp != "" && fp != sess.seenFP:
		reasons = append(reasons, fmt.Sprintf("TLS fingerprint changed mid-session from %q to %q", sess.seenFP, fp))
		signal = SignalFingerprintChanged
	}
	sess.seenIP, sess.seenUA = ip, ua
	if fp != "" {
		sess.seenFP = fp
	}
	if reasons != nil && s.esc.OnChange == warden.StepUp {
		sess.revalidate = reasons[0] + ": every call needs an approver until one allows the session again"
	}
	sess.mu.Unlock()
	if reasons == nil {
		return true
	}
	what := strings.Join(reasons, "; ")
	sess.handsChanged(reasons[0])
	ctx := context.WithoutCancel(r.Context())
	if err := s.raise(ctx, sess, signal, reasons, s.esc.OnChange.String(), true, moved); err != nil {
		s.log.Error("cannot record a session change", "session", sess.id, "err", err)
	}
	s.log.Warn("session changed hands", "session", sess.id, "agent", sess.agent.Name, "change", what, "response", s.esc.OnChange)
	if s.esc.OnChange == warden.Kill {
		s.kill(ctx, sess, what, "warden")
		return false
	}
	s.alert(notify.Message{Type: notify.TypeCallFlagged, Session: sess.id, Agent: sess.agent.Name, RemoteAddr: remote,
		Client: sess.client, Reasons: reasons, Text: fmt.Sprintf("%s's session %s: %s", sess.agent.Name, sess.id, what)})
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

// geoMove is a client's move to another country or autonomous system.
type geoMove struct {
	From placeAt `json:"from"`
	To   placeAt `json:"to"`
}

// placeAt is where an address is.
type placeAt struct {
	Addr string `json:"addr"`
	geo.Place
}

// geoMove locates both addresses and returns the move between them, or
// nil when they are in the same country and autonomous system, or
// geolocation is off or cannot tell (the address change is a signal all
// the same).
func (s *Supervisor) geoMove(from, to string) *geoMove {
	db := s.opts.Network.Geo
	if db == nil {
		return nil
	}
	a, errA := netip.ParseAddr(from)
	b, errB := netip.ParseAddr(to)
	if errA != nil || errB != nil {
		return nil
	}
	pa, errA := db.Lookup(a)
	pb, errB := db.Lookup(b)
	if err := errors.Join(errA, errB); err != nil {
		s.log.Error("cannot locate a client address", "err", err)
		return nil
	}
	if pa.Country == pb.Country && pa.ASN == pb.ASN {
		return nil
	}
	return &geoMove{From: placeAt{from, pa}, To: placeAt{to, pb}}
}

func (m *geoMove) String() string {
	return fmt.Sprintf("client moved mid-session from %s to %s", m.From, m.To)
}

func (p placeAt) String() string {
	country := p.Country
	if country == "" {
		country = "an unknown country"
	}
	if p.ASN == 0 {
		return fmt.Sprintf("%s (%s)", country, p.Addr)
	}
	return fmt.Sprintf("%s, AS%d %s (%s)", country, p.ASN, p.Org, p.Addr)
}
