package supervisor

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/workflows"
)

// The signals warden raises on a live session after it authenticated.
// Each is a signal event on the session's chain, with its evidence, and
// adds its weight to the session's risk (see workflows.State.Risk).
const (
	SignalAddressChanged     = "address_changed"     // the client's address changed mid-session
	SignalUserAgentChanged   = "user_agent_changed"  // its user agent changed mid-session
	SignalTokenReuse         = "token_reuse"         // the agent's token is live in another session from elsewhere
	SignalDormantToken       = "dormant_token"       // the agent's token comes back after a long silence
	SignalLocationChanged    = "location_changed"    // the client moved to another country or network (ASN) mid-session
	SignalImpossibleTravel   = "impossible_travel"   // the agent's new session is in another country than its last, too soon after it
	SignalFingerprintChanged = "fingerprint_changed" // the client's TLS fingerprint (from a trusted proxy) changed mid-session
)

// travelWindow is how soon after an agent's session one from another
// country counts as impossible travel: an agent's host does not cross
// borders in an hour.
const travelWindow = time.Hour

// DefaultDormantAfter is how long an agent unseen makes its token dormant.
const DefaultDormantAfter = 30 * 24 * time.Hour

// defaultWeight is a signal's weight unless Escalation.SignalWeights says
// otherwise: with the default thresholds (flag 20, step up 50, kill 80),
// one signal flags the session's calls for a while (until it decays
// under 20), two step them up.
func defaultWeight(name string) float64 {
	switch name {
	case SignalAddressChanged:
		return 30
	case SignalUserAgentChanged, SignalFingerprintChanged:
		return 25
	case SignalTokenReuse:
		return 40
	case SignalDormantToken:
		return 25
	case SignalLocationChanged, SignalImpossibleTravel:
		return 40
	case SignalNewTool:
		return 15 // alone under the flag threshold; with another signal, over it
	case SignalNewTransition:
		return 10
	case SignalBurst:
		return 30
	case SignalOddHour:
		return 10
	case SignalLargeResult, SignalManyRecipients:
		return 20
	case SignalNewArgumentShape:
		return 10
	case SignalLargeAmount:
		return 25
	}
	return 10
}

// weight is a signal's configured weight.
func (e Escalation) weight(name string) float64 {
	if w, ok := e.SignalWeights[name]; ok {
		return w
	}
	return defaultWeight(name)
}

// signalData is a signal event's Data: the signal, whether it says the
// session changed hands, and where the client moved, when geolocation
// says it moved.
type signalData struct {
	Signal       *workflows.Signal `json:"signal,omitempty"`
	ChangedHands bool              `json:"changed_hands,omitempty"`
	Geo          *geoMove          `json:"geo,omitempty"`
}

// raise records a signal on the session's chain, with verdict as the
// response it got, and adds it to the session's state (its risk). The
// state is committed with the session's next call; the chain keeps the
// signal meanwhile, and a resume reads it from there.
func (s *Supervisor) raise(ctx context.Context, sess *session, name string, reasons []string, verdict string, changedHands bool, moved *geoMove) error {
	sig := workflows.Signal{Name: name, Weight: s.esc.weight(name), At: time.Now().UTC(), Evidence: strings.Join(reasons, "; ")}
	return s.recordSignal(ctx, sess, sig, reasons, verdict, changedHands, moved)
}

// recordSignal is raise with the signal made by the caller (a learning
// baseline's signals weigh nothing).
func (s *Supervisor) recordSignal(ctx context.Context, sess *session, sig workflows.Signal, reasons []string, verdict string, changedHands bool, moved *geoMove) error {
	data, err := json.Marshal(signalData{Signal: &sig, ChangedHands: changedHands, Geo: moved})
	if err != nil {
		return fmt.Errorf("record signal: %w", err)
	}
	sess.decideMu.Lock()
	if _, err := s.store.Append(ctx, sess.id, store.Event{Kind: store.KindSignal, Verdict: verdict, Reasons: reasons, Data: data}); err != nil {
		sess.decideMu.Unlock()
		return fmt.Errorf("record signal: %w", err)
	}
	sess.mu.Lock()
	sess.state = sess.state.WithSignal(sig)
	sess.mu.Unlock()
	sess.decideMu.Unlock()
	// Only once this session's lock is let go: two sessions sharing at
	// once must not wait on each other.
	s.shareSignal(ctx, sess, sig)
	return nil
}

// signalsOnRecord are the signals a session's history holds, for a
// resume: the risk is a function of the recorded events.
func signalsOnRecord(evs []store.Event) []workflows.Signal {
	var out []workflows.Signal
	for _, e := range evs {
		if e.Kind != store.KindSignal || len(e.Data) == 0 {
			continue
		}
		var d signalData
		if json.Unmarshal(e.Data, &d) == nil && d.Signal != nil {
			out = append(out, *d.Signal)
		}
	}
	return out
}

// startSignals raises the signals a new session of an agent gives at
// once: its token live elsewhere, or back after a long silence. prev is
// the agent's latest session before this one, if any.
func (s *Supervisor) startSignals(ctx context.Context, sess *session, prev *store.Session) {
	for _, other := range s.sessions.all() {
		if other == sess || other.agent.Name != sess.agent.Name {
			continue
		}
		if hostOf(other.remote) != hostOf(sess.remote) || other.userAgent != sess.userAgent {
			ev := fmt.Sprintf("agent %s's token is live in session %s from %s (%q) and now from %s (%q)",
				sess.agent.Name, other.id, hostOf(other.remote), other.userAgent, hostOf(sess.remote), sess.userAgent)
			if err := s.raise(ctx, sess, SignalTokenReuse, []string{ev}, "", false, nil); err != nil {
				s.log.Error("cannot record a signal", "session", sess.id, "err", err)
			}
			break
		}
	}
	if prev != nil && sess.started.Sub(prev.LastSeen) < travelWindow {
		if m := s.geoMove(hostOf(prev.RemoteAddr), hostOf(sess.remote)); m != nil && m.From.Country != m.To.Country {
			ev := fmt.Sprintf("agent %s's session %s was in %s %s ago; this one is in %s", sess.agent.Name, prev.ID,
				m.From, sess.started.Sub(prev.LastSeen).Round(time.Second), m.To)
			if err := s.raise(ctx, sess, SignalImpossibleTravel, []string{ev}, "", false, m); err != nil {
				s.log.Error("cannot record a signal", "session", sess.id, "err", err)
			}
		}
	}
	after := s.esc.DormantAfter
	if after <= 0 {
		after = DefaultDormantAfter
	}
	if prev != nil && sess.started.Sub(prev.LastSeen) > after {
		ev := fmt.Sprintf("agent %s's token was last used %s ago (session %s), more than %s", sess.agent.Name,
			sess.started.Sub(prev.LastSeen).Round(time.Minute), prev.ID, after)
		if err := s.raise(ctx, sess, SignalDormantToken, []string{ev}, "", false, nil); err != nil {
			s.log.Error("cannot record a signal", "session", sess.id, "err", err)
		}
	}
}

// riskNow is the session's risk now and its signals as evidence, for
// approvers.
func (sess *session) riskNow(now time.Time) (float64, []string) {
	sess.mu.Lock()
	st := sess.state
	sess.mu.Unlock()
	var out []string
	for _, sig := range st.Signals {
		out = append(out, fmt.Sprintf("%s (+%.0f at %s): %s", sig.Name, sig.Weight, sig.At.Format(time.RFC3339), sig.Evidence))
	}
	return st.Risk(now, st.HalfLife), out
}
