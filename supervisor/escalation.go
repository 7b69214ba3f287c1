package supervisor

import (
	"context"
	"time"

	"github.com/warden-dev/warden"
	"github.com/warden-dev/warden/notify"
)

// Escalation configures what warden does with a call it will not simply
// allow: hold it for an approver, slow it down, or react to a session
// that changed hands.
type Escalation struct {
	// Approvals enables step-up: a held call waits for a decision through
	// the admin API, the CLI, a signed link or elicitation. Without it a
	// step-up is denied at once, saying no approver is configured.
	Approvals bool
	// ApprovalTimeout is how long a call is held (default 2m; a workflow
	// step may set its own); then it is denied.
	ApprovalTimeout time.Duration
	// Notifier receives approval requests, decisions, flags and kills
	// (webhooks); nil sends none.
	Notifier Notifier
	// LinkSecret signs decision links; with PublicURL (the admin API's
	// base URL) every approval request carries single-use links.
	LinkSecret []byte
	PublicURL  string
	// Elicitation also asks the human at the agent's client to confirm a
	// held call, when the client supports elicitation.
	Elicitation bool

	// SessionRate and AgentRate are token buckets on calls, per session
	// and per agent (across its sessions); zero rates mean no limit.
	// AgentSessionRate overrides SessionRate for an agent; a workflow's
	// own throttle overrides both.
	SessionRate, AgentRate Rate
	AgentSessionRate       map[string]Rate
	// MaxDelay bounds how long a call is held back to fit a rate (and is
	// the delay of a throttle verdict from a rule); beyond it the call is
	// refused with a retry-after. Default 2s.
	MaxDelay time.Duration

	// OnChange is the response when a session's remote address or user
	// agent changes mid-session: warden.Flag (default), warden.StepUp or
	// warden.Kill.
	OnChange warden.Verdict
	// SignalWeights override the weights signals add to a session's risk,
	// by signal name (see the Signal constants); DormantAfter is how long
	// an agent unseen makes its token dormant (default 30 days).
	SignalWeights map[string]float64
	DormantAfter  time.Duration
	// AgentShare is the part of a signal's weight that the agent's other
	// sessions carry (default DefaultAgentShare; negative turns it off).
	AgentShare float64
}

// Rate is a token bucket: calls per minute, and how many may come at once.
type Rate struct {
	PerMinute float64
	Burst     int
}

func (r Rate) set() bool { return r.PerMinute > 0 && r.Burst > 0 }

// Notifier delivers messages to approvers and operators in the background.
type Notifier interface {
	Go(ctx context.Context, m notify.Message) bool
}

func (e *Escalation) defaults() {
	if e.ApprovalTimeout <= 0 {
		e.ApprovalTimeout = 2 * time.Minute
	}
	if e.MaxDelay <= 0 {
		e.MaxDelay = 2 * time.Second
	}
	if e.OnChange == warden.Allow {
		e.OnChange = warden.Flag
	}
}

// alert sends a message to the notifier, if there is one.
func (s *Supervisor) alert(m notify.Message) {
	if m.Time.IsZero() {
		m.Time = time.Now().UTC()
	}
	s.watchers.send(m)
	if s.esc.Notifier == nil {
		return
	}
	// Deliveries outlive the request that caused them, bounded by the
	// notifier's own timeouts and retries.
	s.esc.Notifier.Go(context.Background(), m)
}
