package supervisor

import "time"

// LiveRisk is a live session's risk now and the signals behind it.
type LiveRisk struct {
	Risk    float64  `json:"risk"`
	Signals []string `json:"signals,omitempty"`
}

// LiveRisks returns the risk of each live session, by history id, for the
// operator's views (a session not live has none).
func (s *Supervisor) LiveRisks() map[string]LiveRisk {
	now := time.Now()
	out := map[string]LiveRisk{}
	for _, sess := range s.sessions.all() {
		risk, signals := sess.riskNow(now)
		out[sess.id] = LiveRisk{Risk: risk, Signals: signals}
	}
	return out
}
