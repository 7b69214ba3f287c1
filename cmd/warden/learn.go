package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
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
	traces, _, err := in.input()
	if err != nil {
		return err
	}
	agent, observed, err := c.sessions(traces)
	if err != nil {
		return err
	}
	learned, err := workflows.Learn(observed, workflows.LearnOptions{Agent: agent, Headroom: c.Headroom, MinSupport: c.MinSupport})
	if err != nil {
		return err
	}
	var out []byte
	if c.JSON {
		if out, err = json.MarshalIndent(learned, "", "  "); err != nil {
			return err
		}
		out = append(out, '\n')
	} else {
		out = learned.YAML()
		// What is proposed must load: a proposal warden would refuse is a bug here.
		if _, err := workflows.Parse("learned.yaml", out); err != nil {
			return fmt.Errorf("the learned workflow does not load (a bug in warden learn): %w", err)
		}
	}
	if c.Out != "" {
		return os.WriteFile(c.Out, out, 0o644)
	}
	_, err = g.stdout().Write(out)
	return err
}

// sessions picks the agent's sessions and turns them into what Learn reads.
// Without --agent the input must hold one agent's sessions.
func (c *learnCmd) sessions(traces []supervisor.Trace) (string, []workflows.Observed, error) {
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
	var out []workflows.Observed
	for _, tr := range traces {
		if tr.Agent != "" && tr.Agent != agent {
			continue
		}
		out = append(out, observedOf(tr, c.PromptAsIntent))
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
