package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"
)

type replicasCmd struct {
	Config string `short:"c" help:"Configuration file naming the PostgreSQL history (store.postgres) the replicas share." required:"" type:"existingfile"`
}

// Run lists the policy each replica runs against the one last announced;
// the exit code is 1 when a replica's differs (or it could not load it).
func (c *replicasCmd) Run(g *cli) error {
	cfg, err := loadConfig(c.Config)
	if err != nil {
		return err
	}
	if cfg.Store.Postgres == nil {
		return fmt.Errorf("%s has no store.postgres section: replicas share a PostgreSQL history", c.Config)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := openPostgres(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	p, err := db.Policies(ctx)
	if err != nil {
		return err
	}
	out := g.stdout()
	if p.Announced == "" {
		fmt.Fprintln(out, "no replica has announced a policy yet")
		return nil
	}
	fmt.Fprintf(out, "announced policy %s by %s at %s\n", short(p.Announced), p.AnnouncedBy, p.At.UTC().Format(time.RFC3339))
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REPLICA\tPOLICY\tLOADED\tSTATE")
	diverged := 0
	for _, r := range p.Replicas {
		state := "runs the announced policy"
		if r.Digest != p.Announced || r.Problem != "" {
			diverged++
			state = "DIVERGED"
			if r.Problem != "" {
				state += ": " + r.Problem
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Replica, short(r.Digest), r.Loaded.UTC().Format(time.RFC3339), state)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if diverged > 0 {
		return exitError{code: 1, msg: fmt.Sprintf("%d replica(s) do not run the announced policy", diverged)}
	}
	return nil
}

// short is a digest's first 12 hex digits, as people compare them.
func short(digest string) string {
	if len(digest) > 12 {
		return digest[:12]
	}
	return digest
}
