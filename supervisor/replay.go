package supervisor

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/warden-dev/warden"
	"github.com/warden-dev/warden/eval"
	"github.com/warden-dev/warden/workflows"
)

// Trace is one recorded session: `{"id", "agent", "calls": [{"tool", "args", "output"}]}`.
// Unknown fields are ignored; id defaults to the line number. AgentDojo's
// `task_id` and `suite` stand in for a missing id and agent.
type Trace struct {
	ID     string      `json:"id"`
	Agent  string      `json:"agent"`
	Calls  []TraceCall `json:"calls"`
	Line   int         `json:"-"`
	TaskID string      `json:"task_id,omitempty"`
	Suite  string      `json:"suite,omitempty"`
	// Intent is the user's request the session was declared for, if any.
	Intent string `json:"intent,omitempty"`
	// Prompt is the task's prompt in a corpus (AgentDojo's tasks.jsonl);
	// ReplayOptions.PromptAsIntent declares it as the intent.
	Prompt string `json:"prompt,omitempty"`
	// Judgements are the judge's answers recorded in the session, reused
	// when the replay asks no judge of its own.
	Judgements []eval.Judgement `json:"judgements,omitempty"`
	// Signals are the session's recorded signals, each before the call
	// it preceded, so that replay gives the session the same risk.
	Signals []TraceSignal `json:"signals,omitempty"`
	// Started is when the session started, if recorded: max_duration and
	// session.started count from it. Without it, a session whose first
	// call has a recorded time started then.
	Started *time.Time `json:"started,omitempty"`

	raw []byte // the JSON line of a trace not decoded yet (TraceReader.Deferred)
}

// TraceSignal is a signal recorded before call Before of a trace.
type TraceSignal struct {
	Before int `json:"before"`
	workflows.Signal
}

// TraceCall is one call of a trace, with the text the tool returned
// (Output) and its structuredContent if recorded.
type TraceCall struct {
	// Kind is "resource" for a resources/read (Tool is the URI, Args
	// {"uri": URI}) and "prompt" for a prompts/get; empty for a tool call.
	Kind       string         `json:"kind,omitempty"`
	Tool       string         `json:"tool"`
	Args       map[string]any `json:"args"`
	Output     *string        `json:"output"`
	Structured any            `json:"structured_content,omitempty"`
	// Description is the tool's description as the judge saw it, so that
	// a recorded judgement is found again (it is part of the prompt).
	Description string `json:"description,omitempty"`
	// At is when the call was made, if recorded: replay then decides it at
	// that time (risk decays on the recorded clock).
	At *time.Time `json:"at,omitempty"`

	// rawOutput is Output as its JSON string when a replay's worker
	// decoded the trace (TraceReader.Deferred), unquoted once for each
	// distinct text (parseShare.raw); Output is then nil.
	rawOutput []byte
}

// ReplayOptions tune a replay.
type ReplayOptions struct {
	// ApproveStepUps replays as if every step-up had been approved: the
	// call goes ahead and the session advances.
	ApproveStepUps bool
	// Agent, when set, replays only the sessions of that agent (and those
	// with no agent); the rest are counted as skipped.
	Agent string
	// Start is the clock of each session's first call (default 2025-01-01
	// UTC, so replays are reproducible); Interval spaces the calls (default 1s).
	Start    time.Time
	Interval time.Duration
	// PromptAsIntent declares a trace's Prompt as its intent when it has
	// none: a corpus's task prompts are the users' requests.
	PromptAsIntent bool
	// Judge, when set, is asked afresh about the calls a live judge would
	// be asked about (warden replay --judge); nil reuses the judgements
	// recorded on the chain.
	Judge *eval.Judge
	// JudgeBounds are the moves Judge may make, as an agent's are live.
	JudgeBounds eval.Bounds
	// MaxDelay is how long a call over the workflow's throttle is held
	// back before it is refused instead, as throttle.max_delay is live;
	// zero means config.DefaultThrottleMaxDelay.
	MaxDelay time.Duration
	// Workers is how many sessions are replayed at once (sessions are
	// independent of each other); 0 or 1 replays them one at a time. With
	// Judge set, sessions are replayed one at a time, so that the judge's
	// budget is spent in the order of the record.
	Workers int
	// Encode, when set, is run on the worker that replayed a session, and
	// its bytes handed on in ReplayedSession.Encoded: so that encoding the
	// verdicts (warden replay --json) runs on every core rather than on the
	// one goroutine that writes them in order. An error stops the replay.
	Encode func(ReplayedSession) ([]byte, error)

	parses *parseShare // results' parses shared across the sessions
	pins   *pinShare   // intents' and configuration's provenance pins, likewise
}

// ReplayedCall is the verdict on one call of a replayed session.
type ReplayedCall struct {
	Tool    string         `json:"tool"`
	Verdict warden.Verdict `json:"verdict"`
	Reasons []string       `json:"reasons"`
	Step    string         `json:"step,omitempty"`
}

// ReplayedSession is one session's verdicts, in call order.
type ReplayedSession struct {
	ID    string         `json:"id"`
	Agent string         `json:"agent,omitempty"`
	Calls []ReplayedCall `json:"calls"`
	// Encoded is ReplayOptions.Encode of the session, when it is set.
	Encoded []byte `json:"-"`
}

// Summary counts calls by verdict, and sessions by the strongest verdict any
// of their calls got.
type Summary struct {
	Sessions int                    `json:"sessions"`
	Calls    int                    `json:"calls"`
	Skipped  int                    `json:"skipped,omitempty"`
	ByCall   map[warden.Verdict]int `json:"calls_by_verdict"`
	BySess   map[warden.Verdict]int `json:"sessions_by_verdict"`
	// TimeDependent names what of the policy decides by the clock (see
	// workflows.Workflow.TimeDependent), and the decaying risk of recorded
	// signals; empty when no verdict depends on when a call was made.
	TimeDependent []string `json:"time_dependent,omitempty"`
	// AtRecordedTimes counts the calls decided at the time they were
	// recorded at; the others are decided on the replay's clock
	// (ReplayOptions.Start and Interval).
	AtRecordedTimes int `json:"calls_at_recorded_times"`
}

// Replay runs recorded sessions through policy with the live decision code
// (Policy.Decide and Policy.Observe): a refused call (step_up, deny) does not
// advance its session, and after a kill the rest of the session is reported
// as kill.
func Replay(policy *Policy, traces io.Reader, opts ReplayOptions) ([]ReplayedSession, Summary, error) {
	var out []ReplayedSession
	sum, err := ReplayStream(policy, NewTraceReader(traces).Deferred, opts, func(rs ReplayedSession) error {
		out = append(out, rs)
		return nil
	})
	if err != nil {
		return nil, Summary{}, err
	}
	return out, sum, nil
}

// ReplayTraces is Replay of traces already read.
func ReplayTraces(policy *Policy, trs []Trace, opts ReplayOptions) ([]ReplayedSession, Summary, error) {
	out := make([]ReplayedSession, 0, len(trs))
	next := func() (Trace, error) {
		if len(trs) == 0 {
			return Trace{}, io.EOF
		}
		tr := trs[0]
		trs = trs[1:]
		return tr, nil
	}
	sum, err := ReplayStream(policy, next, opts, func(rs ReplayedSession) error {
		out = append(out, rs)
		return nil
	})
	if err != nil {
		return nil, Summary{}, err
	}
	return out, sum, nil
}

// ReplaySession runs one trace through policy.
func ReplaySession(policy *Policy, tr Trace, opts ReplayOptions) ReplayedSession {
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	rs := ReplayedSession{ID: tr.ID, Agent: tr.Agent, Calls: make([]ReplayedCall, 0, len(tr.Calls))}
	// The session's clock is the record's where it has one, so that
	// max_duration, since() and now decide as they did live.
	started := opts.Start
	switch {
	case tr.Started != nil:
		started = *tr.Started
	case len(tr.Calls) > 0 && tr.Calls[0].At != nil:
		started = *tr.Calls[0].At
	}
	info := workflows.SessionInfo{ID: tr.ID, Agent: tr.Agent, Started: started}
	switch {
	case tr.Intent != "":
		info.Intent = &workflows.Intent{Request: tr.Intent}
	case opts.PromptAsIntent && tr.Prompt != "":
		info.Intent = &workflows.Intent{Request: tr.Prompt}
	}
	st := policy.Workflow.Start(info)
	// Provenance is rebuilt from the trace as live traffic builds it:
	// from the intent and the results handed over, in order.
	judge, bounds := opts.Judge, opts.JudgeBounds
	if judge == nil && len(tr.Judgements) > 0 {
		judge, bounds = eval.NewRecordedJudge(tr.Judgements), eval.DefaultBounds()
	}
	var prov *eval.Provenance
	if policy.tracksProvenance() || judge != nil {
		prov = opts.pins.provenance(policy, intentWords(info.Intent))
		prov.DeferIndexing() // most sessions look few values up, late
	}
	signals := tr.Signals
	pace := newReplayPace(policy, opts.MaxDelay)
	now := started
	for i, tc := range tr.Calls {
		switch {
		case tc.At != nil:
			now = *tc.At
		case i > 0:
			now = now.Add(opts.Interval) // no recorded time: Interval after the call before
		}
		for len(signals) > 0 && signals[0].Before <= i {
			st = st.WithSignal(signals[0].Signal)
			signals = signals[1:]
		}
		held, refused := pace.fit(now)
		if refused != "" {
			// Refused before any decision, as live: the session stays.
			rs.Calls = append(rs.Calls, ReplayedCall{Tool: tc.Tool, Verdict: warden.Throttle, Reasons: []string{refused}})
			continue
		}
		call := workflows.Call{Kind: tc.Kind, Tool: tc.Tool, Args: tc.Args}
		if prov != nil {
			call.Provenance = prov
		}
		d, next := policy.Decide(st, call, now)
		if held != "" {
			d.Raise(warden.Throttle, held)
		}
		if cause, ask := judgeCause(d, policy, call, info.Intent); judge != nil && ask {
			jc := judgeCall(policy, info.Intent, call, tc.Description, provenanceOfArgs(prov, call.Args))
			before := d.Verdict
			judged(&d, cause, jc, judge.Ask(context.Background(), jc), bounds)
			switch {
			case before == warden.StepUp && d.Verdict == warden.Allow:
				next = d.Approved()
			case d.Verdict > warden.Throttle:
				next = st
			}
		}
		proceeds := d.Verdict <= warden.Throttle
		if d.Verdict == warden.StepUp && opts.ApproveStepUps {
			next, proceeds = d.Approved(), true
		}
		st = next
		rc := ReplayedCall{Tool: tc.Tool, Verdict: d.Verdict, Reasons: d.Reasons, Step: d.Step}
		if proceeds && (tc.Output != nil || tc.rawOutput != nil || tc.Structured != nil) {
			res := opts.parses.of(tc)
			od, after := policy.Observe(st, d.Steps, call, res, now)
			if od.Verdict > warden.Allow || len(od.Reasons) > 0 {
				rc.Verdict = warden.Max(rc.Verdict, od.Verdict)
				rc.Reasons = append(rc.Reasons, od.Reasons...)
			}
			st = after
			if prov != nil && od.Verdict <= warden.Flag {
				prov.ObserveResult(tc.Tool, od.Result()) // parsed if a lookup needs it
			}
		}
		if rc.Reasons == nil {
			rc.Reasons = []string{}
		}
		rs.Calls = append(rs.Calls, rc)
	}
	return rs
}

// timeDependent names what of the policy decides by the clock: its
// workflow's (workflows.Workflow.TimeDependent) and its rules'.
func (p *Policy) timeDependent() []string {
	out := p.Workflow.TimeDependent()
	for _, r := range p.Rules {
		if workflows.ReadsClock(r.When) {
			out = append(out, fmt.Sprintf("rule %q", r.When))
		}
	}
	return out
}
