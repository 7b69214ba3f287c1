package supervisor

import (
	"time"

	"github.com/warden-dev/warden/store"
)

// Observer is told what happens on the call path, for metrics. Its
// methods run on that path: they must be quick and must not block. The
// labels it gets are bounded sets (configured agents, the catalog's tools,
// upstream names, verdicts), never a session or an argument.
type Observer interface {
	// CallDecided: a call got its verdict; took is the decision and its
	// durable record (zero for a call refused before the policy ran).
	CallDecided(agent, tool, verdict string, took time.Duration)
	// UpstreamCalled: a call went to its upstream and came back (failed
	// when no result came).
	UpstreamCalled(upstream, tool string, took time.Duration, failed bool)
	// ApprovalSettled: a held call's approval ended as state (approved,
	// denied, expired) after waited.
	ApprovalSettled(agent, state string, waited time.Duration)
	// SessionKilled: a live session was killed.
	SessionKilled(agent string)
}

// noObserver observes nothing.
type noObserver struct{}

func (noObserver) CallDecided(string, string, string, time.Duration)  {}
func (noObserver) UpstreamCalled(string, string, time.Duration, bool) {}
func (noObserver) ApprovalSettled(string, string, time.Duration)      {}
func (noObserver) SessionKilled(string)                               {}

// obs is the configured Observer, or one that observes nothing.
func (s *Supervisor) obs() Observer {
	if s.opts.Observer == nil {
		return noObserver{}
	}
	return s.opts.Observer
}

// toolLabel names a call's tool for metrics: the catalog's name, or
// "(unknown)" for a name the catalog does not have (an agent chooses it,
// and must not grow the metrics without bound). Resource reads, prompts
// and completions go by their kind: their names are URIs and arguments.
func (c *call) toolLabel() string {
	switch {
	case c.kind != "":
		return "(" + c.kind + ")"
	case c.tool.Def.Name == "":
		return "(unknown)"
	}
	return c.tool.Def.Name
}

// observeCall tells the Observer that c got verdict after took.
func (c *call) observeCall(verdict string, took time.Duration) {
	c.s.obs().CallDecided(c.sess.agent.Name, c.toolLabel(), verdict, took)
}

// PendingApprovals counts the calls held for an approver now.
func (s *Supervisor) PendingApprovals() int {
	s.waiting.mu.Lock()
	defer s.waiting.mu.Unlock()
	return len(s.waiting.m)
}

// approvalWait is how long an approval waited for its outcome.
func approvalWait(a store.Approval) time.Duration {
	if a.DecidedAt.IsZero() {
		return time.Since(a.Created)
	}
	return a.DecidedAt.Sub(a.Created)
}
