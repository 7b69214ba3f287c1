package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/warden-dev/warden/ocsf"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
)

type exportCmd struct {
	Write exportWriteCmd `cmd:"" default:"withargs" help:"Write sessions with their events: the history export format, or OCSF events with --format ocsf (the default command)."`
	Check exportCheckCmd `cmd:"" help:"Read an export file and check every chain in it."`
}

type exportWriteCmd struct {
	historyFlags
	Session []string `help:"Export this session (repeatable; _system is the system log); a unique prefix of its id will do."`
	Agent   string   `help:"Export every session of this agent."`
	Out     string   `short:"o" help:"Write to this file (made whole or not at all) instead of stdout."`
	Format  string   `help:"jsonl: the history export format, chains included (docs/history-export.md); ocsf: OCSF 1.8 events for a SIEM, one per line (docs/siem.md)." enum:"jsonl,ocsf" default:"jsonl"`
	Since   string   `help:"Only events at or after this time: RFC 3339 (2026-11-02T09:00:00Z) or a duration back from now (24h)."`
}

// maxExportTries bounds re-reads of a live session whose head moved
// while it was read.
const maxExportTries = 5

func (c *exportWriteCmd) Run(g *cli) error {
	if len(c.Session) > 0 && c.Agent != "" {
		return errors.New("give --session or --agent, not both")
	}
	since, err := parseSince(c.Since, time.Now())
	if err != nil {
		return err
	}
	h, err := c.open()
	if err != nil {
		return err
	}
	defer h.Close()
	ctx := context.Background()
	ids := make([]string, len(c.Session))
	for i, id := range c.Session {
		if ids[i], err = filterID("session", id, historySessionIDs(ctx, h)); err != nil {
			return err
		}
	}
	if len(ids) == 0 {
		list, err := h.Sessions(ctx, store.Filter{Agent: c.Agent})
		if err != nil {
			return err
		}
		if c.Format == "ocsf" && c.Agent == "" {
			// Tool definitions changing are findings too; the system
			// log exists once something was written to it.
			if _, err := h.Session(ctx, store.SystemLog); err == nil {
				ids = append(ids, store.SystemLog)
			}
		}
		for _, s := range slices.Backward(list) { // oldest first
			if s.LastSeen.Before(since) {
				continue // nothing of it is recent enough
			}
			ids = append(ids, s.ID)
		}
		if len(ids) == 0 && since.IsZero() {
			return fmt.Errorf("no sessions to export")
		}
		if len(ids) == 0 {
			// A periodic export of a quiet period: an empty file, not a failure.
			fmt.Fprintf(os.Stderr, "no events since %s\n", since.Format(time.RFC3339))
		}
	}
	write := func(w io.Writer) error {
		for _, id := range ids {
			v, err := exportView(ctx, h, id)
			if err != nil {
				return err
			}
			if len(v.Events) == 0 && v.Session.LastSeq > 0 {
				fmt.Fprintf(os.Stderr, "session %s: its events were pruned by retention; they are in the retention export files\n", id)
			}
			// Times only grow along a chain, so the recent events are a
			// tail: the history export format can still check it.
			evs := v.Events
			if i := slices.IndexFunc(evs, func(e store.Event) bool { return !e.Time.Before(since) }); i >= 0 {
				evs = evs[i:]
			} else {
				evs = nil
			}
			if len(evs) == 0 && !since.IsZero() {
				continue
			}
			if c.Format == "ocsf" {
				if _, err := ocsf.Write(w, v.Session, evs); err != nil {
					return err
				}
				continue
			}
			if err := store.WriteExport(w, v.Session, evs); err != nil {
				return err
			}
		}
		return nil
	}
	if c.Out == "" {
		bw := bufio.NewWriter(g.stdout())
		if err := write(bw); err != nil {
			return err
		}
		return bw.Flush()
	}
	_, err = store.WriteExportFile(c.Out, write)
	return err
}

// parseSince reads --since: an RFC 3339 time, or a duration back from
// now. "" is the zero time: everything.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("--since %q: want an RFC 3339 time (2026-11-02T09:00:00Z) or a duration back from now (24h)", s)
	}
	return now.Add(-d), nil
}

// exportView reads one session whose events end at its recorded head: a
// live session may move between the two reads, so it is read again.
func exportView(ctx context.Context, h history, id string) (supervisor.SessionView, error) {
	for range maxExportTries {
		v, err := h.Session(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return v, fmt.Errorf("no session %q", id)
		}
		if err != nil {
			return v, err
		}
		n := len(v.Events)
		if n == 0 || (v.Events[n-1].Seq == v.Session.LastSeq && v.Events[n-1].Hash == v.Session.Head) {
			return v, nil
		}
	}
	return supervisor.SessionView{}, fmt.Errorf("session %q kept changing while it was read; try again", id)
}

type exportCheckCmd struct {
	File string `arg:"" help:"An export file (from retention or warden export)." type:"existingfile"`
	JSON bool   `help:"Print JSON for machines."`
}

// exportSummary is what check found.
type exportSummary struct {
	Sessions int `json:"sessions"`
	Events   int `json:"events"`
}

func (c *exportCheckCmd) Run(g *cli) error {
	f, err := os.Open(c.File)
	if err != nil {
		return err
	}
	defer f.Close()
	var sum exportSummary
	err = store.ReadExport(bufio.NewReader(f), func(x store.ExportedSession) error {
		sum.Sessions++
		sum.Events += len(x.Events)
		return nil
	})
	if err != nil {
		return exitError{code: 1, msg: fmt.Sprintf("ALTERED or damaged: %s: %v", c.File, err)}
	}
	if c.JSON {
		return printJSON(g.stdout(), sum)
	}
	fmt.Fprintf(g.stdout(), "intact: %d sessions, %d events, every chain ends at its recorded head\n", sum.Sessions, sum.Events)
	return nil
}
