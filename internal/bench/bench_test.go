package bench

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warden-dev/warden/internal/cputime"
	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/tools"
)

// TestRunMeasuresEveryMode checks that the bench really drives all four
// paths (a broken path, or a warden mode that does not share upstream
// sessions as it says, fails the run), and that only warden-per-session
// reports the cost of opening an upstream session; it asserts no speed.
func TestRunMeasuresEveryMode(t *testing.T) {
	res, err := Run(context.Background(), Options{Duration: 800 * time.Millisecond, Sessions: []int{1, 2}, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 8 {
		t.Fatalf("got %d results, want 8", len(res))
	}
	seen := map[string]int{}
	for _, r := range res {
		seen[r.Mode]++
		if r.CallsPerSec <= 0 || r.P50us <= 0 || r.P99us < r.P50us {
			t.Fatalf("implausible result %+v", r)
		}
		opens := r.OpenP50us != 0 || r.OpenP99us != 0
		if want := r.Mode == "warden-per-session"; opens != want {
			t.Fatalf("%+v: open cost reported %v, want %v", r, opens, want)
		}
		// Every mode's CPU time is measured where it can be read; a run
		// of calls over HTTP cannot cost nothing, nor keep more than
		// every CPU busy.
		if _, ok := cputime.Process(); ok && (r.CPUusPerCall <= 0 || r.CPUBusy <= 0 || r.CPUBusy > 1.05) {
			t.Fatalf("%+v: implausible CPU figures", r)
		}
		if r.OpenP99us < r.OpenP50us {
			t.Fatalf("implausible open cost %+v", r)
		}
		// The limit and the log's work are the warden modes' alone.
		if !strings.HasPrefix(r.Mode, "warden") {
			if r.FsyncP50us != 0 || r.LimitCallsPerSec != 0 || r.ShareOfLimit != 0 || r.EventsPerFsync != 0 || r.WaitPerDurablePointUs != 0 {
				t.Fatalf("%+v: warden's figures on a mode without warden", r)
			}
			continue
		}
		if r.FsyncP50us <= 0 || r.FsyncP99us < r.FsyncP50us || r.FsyncMeanUs <= 0 || r.LogFsyncMeanUs <= 0 {
			t.Fatalf("%+v: implausible fdatasync latency", r)
		}
		if r.LimitCallsPerSec <= 0 || r.ShareOfLimit != r.CallsPerSec/r.LimitCallsPerSec {
			t.Fatalf("%+v: implausible limit", r)
		}
		// Two durable points per call, each waited for.
		if r.EventsPerFsync <= 0 || r.WaitPerDurablePointUs <= 0 {
			t.Fatalf("%+v: the log's work not measured", r)
		}
	}
	for _, m := range modes {
		if seen[m] != 2 {
			t.Fatalf("mode %s measured %d times, want 2: %v", m, seen[m], seen)
		}
	}
}

// TestLimit checks the model: the hop's mean call time at the load plus
// two fdatasyncs per call.
func TestLimit(t *testing.T) {
	for _, tc := range []struct {
		sessions  int
		hop, sync float64 // calls/s, µs
		want      float64
	}{
		{1, 10000, 100, 1 / (100e-6 + 200e-6)},   // 100 µs a call, plus 200
		{16, 10000, 125, 16 / (1.6e-3 + 250e-6)}, // 1.6 ms a call, plus 250 µs
		{256, 8000, 125, 256 / (32e-3 + 250e-6)}, // near the hop at high load
		{16, 0, 125, 0},                          // no hop measured: no limit
	} {
		if got := limit(tc.sessions, tc.hop, tc.sync); math.Abs(got-tc.want) > 1e-6*tc.want {
			t.Errorf("limit(%d, %v, %v) = %v, want %v", tc.sessions, tc.hop, tc.sync, got, tc.want)
		}
	}
}

// TestCPUShare checks the CPU columns: CPU time per call, and CPU time
// over wall time and the processors available.
func TestCPUShare(t *testing.T) {
	for _, tc := range []struct {
		name      string
		cpu, wall time.Duration
		calls     int
		procs     int
		perCall   float64 // µs
		busy      float64
	}{
		{"both cores busy", 2 * time.Second, time.Second, 10000, 2, 200, 1},
		{"one of two idle", time.Second, time.Second, 4000, 2, 250, 0.5},
		{"one core, a quarter busy", 250 * time.Millisecond, time.Second, 1000, 1, 250, 0.25},
		{"no calls", time.Second, time.Second, 0, 2, 0, 0},
		{"no time", time.Second, 0, 10, 2, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			perCall, busy := cpuShare(tc.cpu, tc.wall, tc.calls, tc.procs)
			if math.Abs(perCall-tc.perCall) > 1e-9 || math.Abs(busy-tc.busy) > 1e-9 {
				t.Fatalf("cpuShare = %v µs/call, %v busy; want %v, %v", perCall, busy, tc.perCall, tc.busy)
			}
		})
	}
}

// TestProcessCPU checks that the process's CPU time is read and grows
// with work done, where it can be read at all.
func TestProcessCPU(t *testing.T) {
	before, ok := cputime.Process()
	if !ok {
		t.Skip("the process's CPU time cannot be read here")
	}
	x := uint64(1)
	for after, _ := cputime.Process(); after <= before; after, _ = cputime.Process() {
		for range 1 << 16 {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	if x == 0 { // keep the loop from being optimised away
		t.Log(x)
	}
}

// TestLogWork checks what the bench derives from two readings of the
// log's counters.
func TestLogWork(t *testing.T) {
	before := store.LogStats{Appends: 100, Syncs: 40, SyncTime: 5 * time.Millisecond, Wait: 10 * time.Millisecond}
	after := store.LogStats{Appends: 420, Syncs: 80, SyncTime: 11 * time.Millisecond, Wait: 74 * time.Millisecond}
	perSync, wait, sync := logWork(before, after)
	if perSync != 8 || wait != 200 || sync != 150 {
		t.Fatalf("logWork = %v events/fsync, %v µs wait, %v µs a sync; want 8, 200 and 150", perSync, wait, sync)
	}
	if perSync, wait, sync := logWork(after, after); perSync != 0 || wait != 0 || sync != 0 {
		t.Fatalf("logWork with no appends = %v, %v, %v; want zeros", perSync, wait, sync)
	}
}

// TestCheckSharing checks the guard that makes a run fail when a warden
// mode does not open upstream sessions as its name says.
func TestCheckSharing(t *testing.T) {
	count := func(n int) func() int { return func() int { return n } }
	for _, tc := range []struct {
		name   string
		t      target
		agents int
		want   string // "" when accepted
	}{
		{"no warden", target{}, 16, ""},
		{"shared, none opened", target{upstreamSessions: count(0)}, 16, ""},
		{"shared, one opened", target{upstreamSessions: count(1)}, 16, "not shared"},
		{"per session, one each", target{perSession: true, upstreamSessions: count(16)}, 16, ""},
		{"per session, fewer", target{perSession: true, upstreamSessions: count(1)}, 16, "not one each"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.t.checkSharing(tc.agents)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

// TestThrowawayEndsItsUpstreamSession checks that a session the bench is
// done with ends, with the upstream session warden opened for it, so that
// sampled sessions do not linger beside the measured ones.
func TestThrowawayEndsItsUpstreamSession(t *testing.T) {
	ctx := context.Background()
	r, upURL, db := echoRig(t)
	w, err := r.startWarden(ctx, upURL, db, tools.PerSession)
	if err != nil {
		t.Fatal(err)
	}

	c, err := dial(ctx, w.url, w.token)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if _, err := echo(ctx, c); err != nil {
		t.Fatal(err)
	}
	if _, err := throwaway(ctx, w); err != nil {
		t.Fatal(err)
	}
	// The kept session still holds its own; the throwaway's is closed.
	testkit.WaitFor(t, 10*time.Second, "the throwaway session's upstream session to close", func() bool {
		return w.upstreamSessions() == 1
	})
}

// echoRig starts a rig, closed when the test ends, serving the echo
// upstream, and opens a store in a temporary directory for a mode to use
// (a warden mode closes it; closing it twice is harmless).
func echoRig(t *testing.T) (r *rig, upURL string, db *store.DB) {
	t.Helper()
	r = &rig{}
	t.Cleanup(r.close)
	upURL, err := r.serve(mcpHandler(echoServer()))
	if err != nil {
		t.Fatal(err)
	}
	db, err = store.Open(filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return r, upURL, db
}
