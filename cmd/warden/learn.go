package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/warden-dev/warden/supervisor"
	"github.com/warden-dev/warden/workflows"
)

type learnCmd struct {
	Traces         string  `help:"JSONL traces, one session a line (the format warden replay reads)." type:"existingfile" xor:"input"`
	DB             string  `help:"Learn from the sessions recorded in this bbolt history file." type:"existingfile" xor:"input"`
	Config         string  `short:"c" help:"Learn from this configuration's history (its file, or warden's admin API when warden is running)." type:"existingfile" xor:"input"`
	Agent          string  `help:"The agent whose sessions to learn from; needed when the input holds several."`
	Since          string  `help:"Recorded sessions started at or after: RFC 3339 time or a duration back (24h)."`
	Until          string  `help:"Recorded sessions started before."`
	PromptAsIntent bool    `name:"prompt-as-intent" help:"Take each trace's prompt (a corpus's task prompt) as its declared intent, as warden replay --prompt-as-intent does."`
	Headroom       float64 `help:"Budgets are the observed maxima times this (and at least the maximum plus 2)." default:"2"`
	MinSupport     int     `name:"min-support" help:"Propose trusted_sources for an argument when its value came from a field of an earlier result in at least this many sessions." default:"2"`
	Out            string  `help:"Write the workflow to this file instead of standard output." type:"path"`
	JSON           bool    `help:"Print the proposal as JSON: steps, transitions, budgets and the evidence for each."`
	Cases          string  `help:"Also write the sessions learned from as warden test cases (JSONL), each call wanting at most the verdict a replay against the proposal gives it." type:"path" placeholder:"FILE"`
}

func (c *learnCmd) Run(g *cli) error {
	if c.Headroom < 1 {
		return fmt.Errorf("--headroom must be at least 1, got %g", c.Headroom)
	}
	if c.MinSupport < 1 {
		return fmt.Errorf("--min-support must be at least 1, got %d", c.MinSupport)
	}
	in := replayCmd{Traces: c.Traces, DB: c.DB, Config: c.Config, Agent: c.Agent, Since: c.Since, Until: c.Until}
	if c.Traces == "" && c.DB == "" && c.Config == "" {
		return errors.New("say what to learn from: --traces FILE, --db FILE, or --config FILE")
	}
	traces, err := in.traces()
	if err != nil {
		return err
	}
	agent, traces, err := c.sessions(traces)
	if err != nil {
		return err
	}
	observed := make([]workflows.Observed, 0, len(traces))
	for _, tr := range traces {
		observed = append(observed, observedOf(tr, c.PromptAsIntent))
	}
	learned, err := workflows.Learn(observed, workflows.LearnOptions{Agent: agent, Headroom: c.Headroom, MinSupport: c.MinSupport})
	if err != nil {
		return err
	}
	out := learned.YAML()
	// What is proposed must load: a proposal warden would refuse is a bug here.
	wf, err := workflows.Parse("learned.yaml", out)
	if err != nil {
		return fmt.Errorf("the learned workflow does not load (a bug in warden learn): %w", err)
	}
	if c.JSON {
		if out, err = json.MarshalIndent(learned, "", "  "); err != nil {
			return err
		}
		out = append(out, '\n')
	}
	if c.Out != "" {
		err = os.WriteFile(c.Out, out, 0o644)
	} else {
		_, err = g.stdout().Write(out)
	}
	if err != nil || c.Cases == "" {
		return err
	}
	return c.writeCases(&supervisor.Policy{Workflow: wf}, agent, traces)
}

// learnedCase is a session learned from as a warden test case: the trace
// as it was read, the workflow file it runs against, and what each call
// may get.
type learnedCase struct {
	supervisor.Trace
	Workflow string        `json:"workflow,omitempty"`
	Calls    []learnedCall `json:"calls"` // shadows Trace.Calls in JSON
}

// learnedCall is a trace's call with the most it may get.
type learnedCall struct {
	supervisor.TraceCall
	WantAtMost string `json:"want_at_most"`
}

// writeCases writes the sessions learned from to --cases, one case a
// line. Each call wants at most the verdict a replay against the
// proposal gives it, replayed as warden test replays (prompts declared as
// intents): allow for every call of a session learning covered, so a
// later edit that escalates a session learned from fails the case, while
// one that loosens the workflow passes. A session with no call is left
// out: its case would check nothing.
func (c *learnCmd) writeCases(p *supervisor.Policy, agent string, sessions []supervisor.Trace) error {
	workflow := ""
	if c.Out != "" {
		workflow = filepath.Base(c.Out)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, tr := range sessions {
		if len(tr.Calls) == 0 {
			continue
		}
		// The same options as testCmd.Run, so that the case passes there.
		rs := supervisor.ReplaySession(p, tr, supervisor.ReplayOptions{PromptAsIntent: true})
		lc := learnedCase{Trace: tr, Workflow: workflow, Calls: make([]learnedCall, len(tr.Calls))}
		for i, call := range tr.Calls {
			lc.Calls[i] = learnedCall{TraceCall: call, WantAtMost: rs.Calls[i].Verdict.String()}
		}
		if err := enc.Encode(lc); err != nil {
			return fmt.Errorf("--cases: session %s: %w", tr.ID, err)
		}
	}
	if b.Len() == 0 {
		return fmt.Errorf("--cases: no session of agent %q has a call to check", agent)
	}
	if err := os.MkdirAll(filepath.Dir(c.Cases), 0o755); err != nil {
		return fmt.Errorf("--cases: %w", err)
	}
	if err := os.WriteFile(c.Cases, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("--cases: %w", err)
	}
	return nil
}

// sessions picks the agent's sessions (and those of no agent, given the
// agent's name). Without --agent the input must hold one agent's sessions.
func (c *learnCmd) sessions(traces []supervisor.Trace) (string, []supervisor.Trace, error) {
	agent := c.Agent
	if agent == "" {
		seen := map[string]bool{}
		for _, tr := range traces {
			if tr.Agent != "" {
				seen[tr.Agent] = true
			}
		}
		if len(seen) > 1 {
			names := make([]string, 0, len(seen))
			for a := range seen {
				names = append(names, a)
			}
			sort.Strings(names)
			return "", nil, fmt.Errorf("the sessions belong to several agents (%s): say --agent", strings.Join(names, ", "))
		}
		for a := range seen {
			agent = a
		}
	}
	var out []supervisor.Trace
	for _, tr := range traces {
		if tr.Agent != "" && tr.Agent != agent {
			continue
		}
		tr.Agent = agent
		out = append(out, tr)
	}
	if len(out) == 0 {
		return "", nil, fmt.Errorf("no sessions of agent %q to learn from", agent)
	}
	return agent, out, nil
}

// observedOf is a trace as Learn reads it, declared with the intent a
// replay of it would declare.
func observedOf(tr supervisor.Trace, promptAsIntent bool) workflows.Observed {
	o := workflows.Observed{ID: tr.ID, Intent: tr.Intent}
	if o.Intent == "" && promptAsIntent {
		o.Intent = tr.Prompt
	}
	for _, tc := range tr.Calls {
		oc := workflows.ObservedCall{Kind: tc.Kind, Tool: tc.Tool, Args: tc.Args, Structured: tc.Structured}
		if tc.Output != nil {
			oc.Text = *tc.Output
		}
		o.Calls = append(o.Calls, oc)
	}
	return o
}
