package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/warden-dev/warden/internal/bench"
	"github.com/warden-dev/warden/internal/throwaway"
)

// postgres returns the database the PostgreSQL comparison writes to, a
// name for it that never shows the URL (it may hold a password), and how
// to let go of it: the variable --postgres-url-env names, or a throwaway
// cluster that stop removes.
func (c *benchCmd) postgres(ctx context.Context) (url, name string, stop func(), err error) {
	if c.PostgresURLEnv != "" {
		url := os.Getenv(c.PostgresURLEnv)
		if url == "" {
			return "", "", nil, fmt.Errorf("bench: --postgres-url-env %s: $%s is empty or unset", c.PostgresURLEnv, c.PostgresURLEnv)
		}
		return url, "$" + c.PostgresURLEnv, func() {}, nil
	}
	pg, err := throwaway.StartPostgres(ctx)
	if err != nil {
		return "", "", nil, fmt.Errorf("bench: a throwaway PostgreSQL cluster: %w", err)
	}
	return pg.URL, "a throwaway cluster (fsync and synchronous_commit on)", func() {
		if err := pg.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
	}, nil
}

// printPostgresTable prints the PostgreSQL comparison: each mode's
// throughput and latency, set against the hop's at the same level.
func printPostgresTable(out io.Writer, res []bench.Result) error {
	hop := map[int]bench.Result{}
	for _, r := range res {
		if r.Mode == "hop" {
			hop[r.Sessions] = r
		}
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "mode\tstore\treplicas\tsessions\tcalls/s\tp50 µs\tp99 µs\tvs hop\tp50 over hop µs\t")
	for _, r := range res {
		h := hop[r.Sessions]
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.0f\t%.0f\t%.0f\t%.0f%%\t%+.0f\t\n", r.Mode, r.Store, r.Replicas, r.Sessions,
			r.CallsPerSec, r.P50us, r.P99us, 100*r.CallsPerSec/h.CallsPerSec, r.P50us-h.P50us)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(out, "warden-postgres-3-replicas: three replicas in this process, each a Supervisor with its own pool on the one database, behind HAProxy"+
		" (round robin, no stickiness); a request that lands on a replica other than the one serving its session is forwarded there, and that hop is in its figures.")
	return err
}
