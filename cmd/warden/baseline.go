package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
)

type baselineCmd struct {
	Show baselineShowCmd `cmd:"" help:"Print an agent's learned behaviour baseline: as warden saved it, else learned from its recorded sessions now."`
}

type baselineShowCmd struct {
	historyFlags
	Agent string `arg:"" help:"The agent."`
}

// baselineShown is what show prints: the baseline, where it came from and
// the figures its signals compare with.
type baselineShown struct {
	*supervisor.Baseline
	Source        string `json:"source"` // "saved" or "learned from history"
	Learning      bool   `json:"learning"`
	ResultP99     int64  `json:"result_bytes_p99_bound"`
	HoursWorked   []int  `json:"hours_worked_utc"`
	LearningUntil int    `json:"learning_sessions"`
}

func (c *baselineShowCmd) Run(g *cli) error {
	ctx := context.Background()
	h, err := c.open()
	if err != nil {
		return err
	}
	defer h.Close()
	var b *supervisor.Baseline
	source := "saved"
	if local, ok := h.(localHistory); ok {
		b, err = supervisor.SavedBaseline(ctx, local.Store.(store.Baselines), c.Agent)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	if b == nil {
		// Nothing saved (or warden is running and holds it): learn it as
		// warden would at the agent's first call.
		source = "learned from history"
		if b, err = supervisor.LearnBaseline(ctx, h, c.Agent); err != nil {
			return err
		}
	}
	p99, _ := b.ResultP99()
	out := baselineShown{Baseline: b, Source: source, Learning: b.Learning(), ResultP99: p99,
		HoursWorked: b.HoursWorked(), LearningUntil: supervisor.LearningSessions}
	if c.JSON {
		return printJSON(g.stdout(), out)
	}
	return printBaseline(g.stdout(), out)
}

func printBaseline(w io.Writer, b baselineShown) error {
	learning := ""
	if b.Learning {
		learning = fmt.Sprintf(" (learning: its signals weigh nothing until %d sessions)", b.LearningUntil)
	}
	fmt.Fprintf(w, "agent %s: baseline %s, %d sessions, %d calls%s\n", b.Agent, b.Source, b.Sessions, b.Calls, learning)
	if !b.Updated.IsZero() {
		fmt.Fprintf(w, "updated:              %s\n", b.Updated.Format("2006-01-02 15:04:05 UTC"))
	}
	fmt.Fprintf(w, "most calls a minute:  %d\n", b.MaxPerMinute)
	fmt.Fprintf(w, "result size p99:      under %d bytes\n", b.ResultP99)
	hours := make([]string, len(b.HoursWorked))
	for i, h := range b.HoursWorked {
		hours[i] = fmt.Sprintf("%02d", h)
	}
	fmt.Fprintf(w, "hours worked (UTC):   %s\n", strings.Join(hours, " "))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nTOOL\tCALLS")
	for _, t := range slices.Sorted(maps.Keys(b.Tools)) {
		fmt.Fprintf(tw, "%s\t%d\n", t, b.Tools[t])
	}
	fmt.Fprintln(tw, "\nTRANSITION\tTIMES")
	for _, t := range slices.Sorted(maps.Keys(b.Transitions)) {
		fmt.Fprintf(tw, "%s\t%d\n", t, b.Transitions[t])
	}
	return tw.Flush()
}
