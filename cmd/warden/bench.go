package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"text/tabwriter"
	"time"

	"github.com/warden-dev/warden/internal/bench"
)

// benchCmd runs internal/bench and prints, besides each mode's throughput
// and latency, warden's limit on this machine and its share of it. The
// model for the limit: each call pays the hop's mean call time at that
// load (sessions / hop calls/s) plus two fdatasyncs (the call's and the
// result's durable points, shared among concurrent sessions by group
// commit), with the fdatasync's p50 measured in the data directory in the
// same run: limit = sessions / (sessions/hop + 2·fdatasync).
type benchCmd struct {
	Duration       time.Duration `help:"Measuring time of the whole run, split among the configurations (four modes at each concurrency level, five with --floor)." default:"32s"`
	Sessions       []int         `help:"Concurrency levels: concurrent sessions, each calling back to back." default:"1,16,64,256"`
	Dir            string        `help:"Directory for the benchmark's history file (use the disk warden will use); default a temporary one."`
	JSON           bool          `help:"One JSON object per line: mode, sessions, calls, calls_per_sec, p50_us, p99_us; with --store postgres also store (none, bbolt or postgres) and replicas; for warden-per-session open_p50_us, open_p99_us (what opening an upstream session adds to a session's first call); for the warden modes fsync_p50_us, fsync_p99_us, fsync_mean_us (fdatasync in the data directory), log_fsync_mean_us (of warden's log), limit_calls_per_sec, share_of_limit, events_per_fsync, wait_per_durable_point_us; for every mode, where the process's CPU time can be read (unix), cpu_us_per_call (the whole process's CPU time over the mode's run per call) and cpu_busy (that CPU time per wall-clock second per GOMAXPROCS: near 1, bound by the CPU)."`
	Floor          bool          `help:"Also measure hop-durable, after the hop: the hop whose handler makes warden's two durable appends per call (the call's event before forwarding, the result's after) through the same store, with nothing else of warden; what any warden on this store could keep. It reports the log's columns as the warden modes do. bbolt only."`
	Store          string        `help:"bbolt: the direct call, the hop, warden and warden-per-session, history in bbolt. postgres: the hop, warden on bbolt, warden on PostgreSQL, and three warden replicas on that database behind HAProxy (round robin, no stickiness), in one run." enum:"bbolt,postgres" default:"bbolt"`
	PostgresURLEnv string        `name:"postgres-url-env" placeholder:"NAME" help:"With --store postgres: the environment variable holding the URL of a database the bench may fill (it is not emptied afterwards). Without it a throwaway cluster is started in a temporary folder (initdb and pg_ctl, Debian's postgresql) and removed at the end."`
}

func (c *benchCmd) Run(g *cli) error {
	for _, n := range c.Sessions {
		if n <= 0 {
			return fmt.Errorf("bench: --sessions: %d is not a number of sessions", n)
		}
	}
	if c.Floor && c.Store == "postgres" {
		return errors.New("bench: --floor is for --store bbolt")
	}
	if c.PostgresURLEnv != "" && c.Store != "postgres" {
		return errors.New("bench: --postgres-url-env is for --store postgres")
	}
	dir := c.Dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "warden-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	// Interrupted, the run returns early and the deferred stops still
	// remove what it started.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	out := g.stdout()
	enc := json.NewEncoder(out)
	opts := bench.Options{Duration: c.Duration, Sessions: c.Sessions, Dir: dir, Floor: c.Floor, Report: func(r bench.Result) {
		if c.JSON {
			_ = enc.Encode(r)
		}
	}}
	where := "history fsync'd in " + dir
	if c.Store == "postgres" {
		url, name, stopPG, err := c.postgres(ctx)
		if err != nil {
			return err
		}
		defer stopPG()
		opts.PostgresURL = url
		where = fmt.Sprintf("bbolt history fsync'd in %s; PostgreSQL history in %s", dir, name)
	}
	if !c.JSON {
		fmt.Fprintf(os.Stderr, "echo tool over loopback, %s of measuring; %s\n", c.Duration, where)
	}
	res, err := bench.Run(ctx, opts)
	if err != nil && ctx.Err() != nil {
		return errors.New("bench: interrupted")
	}
	if err != nil {
		return err
	}
	switch {
	case c.JSON:
		return nil
	case c.Store == "postgres":
		return printPostgresTable(out, res)
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
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "mode\tsessions\tcalls/s\tp50 µs\tp99 µs\tvs direct\tvs hop\tp50 over hop µs\tlimit/s\tof limit\tevents/fsync\twait µs\tCPU µs/call\tCPU busy\t")
	for _, r := range res {
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.0f\t%.0f\t%.0f%%\t%.0f%%\t%+.0f\t%s%s\n", r.Mode, r.Sessions, r.CallsPerSec, r.P50us, r.P99us,
			100*r.CallsPerSec/direct[r.Sessions].CallsPerSec, 100*r.CallsPerSec/hop[r.Sessions].CallsPerSec,
			r.P50us-hop[r.Sessions].P50us, limitColumns(r), cpuColumns(r))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range res {
		if r.Mode != "warden" {
			continue
		}
		fmt.Fprintf(out, "%d sessions: fdatasync in %s p50 %.0f µs, p99 %.0f µs, mean %.0f µs (warden's log: mean %.0f µs)",
			r.Sessions, dir, r.FsyncP50us, r.FsyncP99us, r.FsyncMeanUs, r.LogFsyncMeanUs)
		if r.Sessions == 1 {
			fmt.Fprintf(out, "; warden's p50 over the hop %.0f µs, budget two fdatasyncs + 100 µs = %.0f µs",
				r.P50us-hop[1].P50us, 2*r.FsyncP50us+100)
		}
		fmt.Fprintln(out)
	}
	for _, r := range res {
		if s, ok := shared[r.Sessions]; ok && r.Mode == "warden-per-session" {
			fmt.Fprintf(out, "per_session vs shared at %d sessions: %.0f%% throughput; opening an upstream session: p50 %.0f µs, p99 %.0f µs\n",
				r.Sessions, 100*r.CallsPerSec/s.CallsPerSec, r.OpenP50us, r.OpenP99us)
		}
	}
	return nil
}

// cpuColumns are the process's CPU time per call and how busy it kept the
// CPUs (CPU-s per wall-s per GOMAXPROCS), dashes where not measured.
func cpuColumns(r bench.Result) string {
	if r.CPUusPerCall == 0 {
		return "-\t-\t"
	}
	return fmt.Sprintf("%.0f\t%.0f%%\t", r.CPUusPerCall, 100*r.CPUBusy)
}

// limitColumns are the table's last columns: the model's limit and the
// log's work for the warden modes, dashes for the others.
func limitColumns(r bench.Result) string {
	if r.LimitCallsPerSec == 0 {
		return "-\t-\t-\t-\t"
	}
	return fmt.Sprintf("%.0f\t%.0f%%\t%.1f\t%.0f\t", r.LimitCallsPerSec, 100*r.ShareOfLimit, r.EventsPerFsync, r.WaitPerDurablePointUs)
}
