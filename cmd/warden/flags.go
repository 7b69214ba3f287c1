package main

import (
	"context"
	"fmt"
	"net/url"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
)

// flagsCmd groups the commands on the review queue: flagged calls and
// signals, which went ahead and wait for someone to look at them.
type flagsCmd struct {
	Ls     flagsLsCmd     `cmd:"" help:"List flagged calls and signals, newest first."`
	Review flagsReviewCmd `cmd:"" help:"Record that a flag was reviewed, with a note; once per flag."`
}

// flagQueue is the review queue, in the history file or through the admin
// API (both kinds of history have it).
type flagQueue interface {
	Flags(ctx context.Context, f store.FlagFilter) ([]store.Flag, error)
	ReviewFlag(ctx context.Context, id, by, note string) (store.Flag, error)
	Close() error
}

// openQueue opens the history's review queue.
func (h historyFlags) openQueue() (flagQueue, error) {
	hist, err := h.open()
	if err != nil {
		return nil, err
	}
	q, ok := hist.(flagQueue)
	if !ok {
		_ = hist.Close()
		return nil, fmt.Errorf("this history has no review queue")
	}
	return q, nil
}

// Flags lists flags through the admin API.
func (r *remoteHistory) Flags(ctx context.Context, f store.FlagFilter) ([]store.Flag, error) {
	q := url.Values{}
	if f.State != "" {
		q.Set("state", f.State)
	}
	if f.Agent != "" {
		q.Set("agent", f.Agent)
	}
	if !f.Since.IsZero() {
		q.Set("since", f.Since.Format(time.RFC3339Nano))
	}
	if f.Limit > 0 {
		q.Set("limit", fmt.Sprint(f.Limit))
	}
	var out []store.Flag
	return out, r.get(ctx, "/v1/flags", q, &out)
}

// ReviewFlag reviews a flag through the admin API, which records the
// reviewer as the identity of its token: by is not sent.
func (r *remoteHistory) ReviewFlag(ctx context.Context, id, _ string, note string) (store.Flag, error) {
	var out store.Flag
	return out, r.send(ctx, "POST", "/v1/flags/"+url.PathEscape(id)+"/review", nil, map[string]string{"note": note}, &out)
}

type flagsLsCmd struct {
	historyFlags
	State string `help:"Only flags in this state: open or reviewed." enum:"open,reviewed," default:""`
	Agent string `help:"Only this agent's flags."`
	Since string `help:"Flagged at or after: RFC 3339 time or a duration back from now (24h)."`
	Limit int    `help:"At most this many flags." default:"0"`
}

func (c *flagsLsCmd) Run(g *cli) error {
	sf, err := supervisor.ParseFilter(c.Agent, "", c.Since, "", fmt.Sprint(c.Limit))
	if err != nil {
		return err
	}
	q, err := c.openQueue()
	if err != nil {
		return err
	}
	defer q.Close()
	list, err := q.Flags(context.Background(), store.FlagFilter{State: c.State, Agent: sf.Agent, Since: sf.Since, Limit: sf.Limit})
	if err != nil {
		return err
	}
	if c.JSON {
		if list == nil {
			list = []store.Flag{}
		}
		return printJSON(g.stdout(), list)
	}
	if len(list) == 0 {
		_, err := fmt.Fprintln(g.stdout(), "no flags")
		return err
	}
	tw := tabwriter.NewWriter(g.stdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tAGENT\tWHAT\tFLAGGED\tREVIEWER\tREASONS")
	for _, f := range list {
		what := strings.TrimSpace(f.Kind + " " + f.Tool)
		if len(f.Signals) > 0 {
			what += " " + strings.Join(f.Signals, ",")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.ID, f.State, f.Agent, what, when(f.Time), f.Reviewer,
			clip(strings.Join(f.Reasons, "; "), 80))
	}
	return tw.Flush()
}

type flagsReviewCmd struct {
	historyFlags
	ID   string `arg:"" help:"Flag id (<session>.<seq>), or a prefix of it that no other flag's id starts with."`
	Note string `help:"What the review found; recorded with the review." required:""`
}

func (c *flagsReviewCmd) Run(g *cli) error {
	if strings.TrimSpace(c.Note) == "" {
		return fmt.Errorf("--note must say what the review found")
	}
	q, err := c.openQueue()
	if err != nil {
		return err
	}
	defer q.Close()
	ctx := context.Background()
	ids := func() ([]string, error) {
		list, err := q.Flags(ctx, store.FlagFilter{})
		return idsOf(list, func(f store.Flag) string { return f.ID }), err
	}
	var f store.Flag
	err = byPrefix("flag", c.ID, ids, isNotFound, func(id string) (err error) {
		f, err = q.ReviewFlag(ctx, id, localReviewer(), c.Note)
		return err
	})
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(g.stdout(), f)
	}
	_, err = fmt.Fprintf(g.stdout(), "flag %s (%s's %s %s) reviewed by %s: %s\n", f.ID, f.Agent, f.Kind, f.Tool, f.Reviewer, f.Note)
	return err
}

// localReviewer is who a review made on the history file is recorded as:
// whoever could write the file, named by the account that did.
func localReviewer() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "admin (file, user " + u.Username + ")"
	}
	return "admin (file)"
}
