package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"text/tabwriter"
	"time"

	"github.com/warden-dev/warden/internal/bench"
)

type benchCmd struct {
	Duration time.Duration `help:"Measuring time of the whole run, split among the eight configurations (four modes at 1 and 16 sessions)." default:"24s"`
	Dir      string        `help:"Directory for the benchmark's history file (use the disk warden will use); default a temporary one."`
	JSON     bool          `help:"One JSON object per line: mode, sessions, calls_per_sec, p50_us, p99_us, and for warden-per-session open_p50_us, open_p99_us (what opening an upstream session adds to a session's first call)."`
}

func (c *benchCmd) Run() error {
	dir := c.Dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "warden-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	enc := json.NewEncoder(os.Stdout)
	if !c.JSON {
		fmt.Fprintf(os.Stderr, "echo tool over loopback, %s of measuring; history fsync'd in %s\n", c.Duration, dir)
	}
	res, err := bench.Run(ctx, bench.Options{Duration: c.Duration, Dir: dir, Report: func(r bench.Result) {
		if c.JSON {
			_ = enc.Encode(r)
		}
	}})
	if err != nil {
		return err
	}
	if c.JSON {
		return nil
	}
	direct := map[int]bench.Result{}
	hop := map[int]bench.Result{}
	shared := map[int]bench.Result{}
	for _, r := range res {
		switch r.Mode {
		case "direct":
			direct[r.Sessions] = r
		case "hop":
			hop[r.Sessions] = r
		case "warden":
			shared[r.Sessions] = r
		}
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "mode\tsessions\tcalls/s\tp50 µs\tp99 µs\tvs direct\tp50 over hop µs\t")
	for _, r := range res {
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.0f\t%.0f\t%.0f%%\t%+.0f\t\n", r.Mode, r.Sessions, r.CallsPerSec, r.P50us, r.P99us,
			100*r.CallsPerSec/direct[r.Sessions].CallsPerSec, r.P50us-hop[r.Sessions].P50us)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range res {
		if s, ok := shared[r.Sessions]; ok && r.Mode == "warden-per-session" {
			fmt.Printf("per_session vs shared at %d sessions: %.0f%% throughput; opening an upstream session: p50 %.0f µs, p99 %.0f µs\n",
				r.Sessions, 100*r.CallsPerSec/s.CallsPerSec, r.OpenP50us, r.OpenP99us)
		}
	}
	return nil
}
