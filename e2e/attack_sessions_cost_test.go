package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
)

// fillHistory writes sessions × events call events (the desktop agent's),
// each session ending in signals that warden recorded on its own, into a
// new history at path, several sessions at once so that the group commit
// shares fsyncs. It returns the time of each session's last call.
func fillHistory(t *testing.T, path string, sessions, events int) (lastCall map[string]time.Time) {
	t.Helper()
	db, err := store.Open(path, store.WithSessionLog())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	work := make(chan int)
	var mu sync.Mutex
	lastCall = map[string]time.Time{}
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 {
		wg.Go(func() {
			for i := range work {
				id := fmt.Sprintf("%032x", i+1)
				now := time.Now()
				if err := db.CreateSession(ctx, store.Session{ID: id, Agent: "desktop", Started: now, LastSeen: now, State: store.StateEnded}); err != nil {
					errs <- err
					return
				}
				for j := range events {
					ev := store.Event{Kind: store.KindCall, CallID: fmt.Sprintf("c%d", j), Tool: "read_file",
						Args: json.RawMessage(`{"path":"policies/refunds.md"}`), Verdict: "allow", Time: time.Now()}
					got, err := db.Append(ctx, id, ev)
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					lastCall[id] = got.Time
					mu.Unlock()
				}
				for range 10 { // more than a first look at a session's tail reads
					if _, err := db.Append(ctx, id, store.Event{Kind: store.KindSignal, Verdict: "flag", Time: time.Now()}); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	for i := range sessions {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	return lastCall
}

// TestAttackSessionsListCost lists sessions on a large history (GET
// /v1/sessions computes each session's last_active from its events) and
// logs what that costs: store.Sessions alone, supervisor.SessionRows
// (what the admin API and `warden sessions` call), and the admin API of a
// real `warden serve` over HTTP, each the median of 5. By default the
// history is small; the figures in the report are from
//
//	WARDEN_BENCH_SESSIONS=2000 WARDEN_BENCH_EVENTS=100 go test -run TestAttackSessionsListCost -v ./e2e/
func TestAttackSessionsListCost(t *testing.T) {
	sessions, events := envInt(t, "WARDEN_BENCH_SESSIONS", 50), envInt(t, "WARDEN_BENCH_EVENTS", 20)
	bin := buildWarden(t)
	cfg, admin := shareConfig(t)
	db := filepath.Join(filepath.Dir(cfg), "data", "warden.db")
	start := time.Now()
	lastCall := fillHistory(t, db, sessions, events)
	t.Logf("history of %d sessions × %d events written in %s", sessions, events, time.Since(start).Round(time.Millisecond))
	if fi, err := os.Stat(db); err == nil {
		t.Logf("history file: %.1f MiB", float64(fi.Size())/(1<<20))
	}

	st, err := store.Open(db, store.WithSessionLog())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	t.Logf("store.Sessions: %s", median(t, func() {
		if list, err := st.Sessions(ctx, store.Filter{}); err != nil || len(list) != sessions {
			t.Fatalf("%d sessions, %v", len(list), err)
		}
	}))
	t.Logf("supervisor.SessionRows: %s", median(t, func() {
		rows, err := supervisor.SessionRows(ctx, st, store.Filter{})
		if err != nil || len(rows) != sessions {
			t.Fatalf("%d rows, %v", len(rows), err)
		}
		for _, r := range rows {
			if !r.LastActive.Equal(lastCall[r.ID]) {
				t.Fatalf("session %s: last_active %s, want its last call's time %s", r.ID, r.LastActive, lastCall[r.ID])
			}
		}
	}))
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	startServe(t, bin, cfg)
	t.Logf("GET /v1/sessions (real serve, HTTP): %s", median(t, func() {
		var rows []supervisor.SessionRow
		adminJSON(t, http.MethodGet, admin+"/v1/sessions?limit=100000", &rows)
		if len(rows) != sessions {
			t.Fatalf("GET /v1/sessions: %d rows, want %d", len(rows), sessions)
		}
	}))
}

// median runs f 5 times and returns its median duration.
func median(t *testing.T, f func()) time.Duration {
	t.Helper()
	var ds []time.Duration
	for range 5 {
		start := time.Now()
		f()
		ds = append(ds, time.Since(start))
	}
	slices.Sort(ds)
	return ds[len(ds)/2].Round(time.Microsecond)
}

// envInt reads a positive integer from the environment, or def.
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	var n int
	if _, err := fmt.Sscan(v, &n); err != nil || n < 1 {
		t.Fatalf("%s=%q is not a positive integer", name, v)
	}
	return n
}
