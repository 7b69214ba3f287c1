package bench

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/store/postgres"
)

// TestRunPostgresMeasuresEveryMode runs the PostgreSQL comparison against
// a throwaway cluster and HAProxy, and checks that every mode answered
// calls at each level, that the history in PostgreSQL holds every call
// the PostgreSQL modes measured, with its result, on chains that verify,
// and that the balanced mode's sessions were served by several replicas,
// each by the one that opened it: HAProxy sends each request to the next
// replica, so a session's requests land on all three, and the others
// forward them to its owner (no session was taken over). It asserts no
// speed.
func TestRunPostgresMeasuresEveryMode(t *testing.T) {
	url := testkit.Postgres(t)
	balance := func(_ context.Context, backends []string) (string, func(), error) {
		if len(backends) != replicas {
			t.Errorf("balancing over %d backends, want %d", len(backends), replicas)
		}
		return testkit.HAProxy(t, backends...), func() {}, nil
	}
	ctx := context.Background()
	res, err := Run(ctx, Options{Duration: 2 * time.Second, Sessions: []int{1, 4}, Dir: t.TempDir(), PostgresURL: url, Balance: balance})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		store    string
		replicas int
	}{"hop": {"none", 0}, "warden": {"bbolt", 1}, "warden-postgres": {"postgres", 1}, "warden-postgres-3-replicas": {"postgres", 3}}
	seen := map[string]int{}
	measured := 0 // calls of the PostgreSQL modes
	for _, r := range res {
		w, ok := want[r.Mode]
		if !ok {
			t.Fatalf("unexpected mode %+v", r)
		}
		seen[r.Mode]++
		if r.Calls <= 0 || r.CallsPerSec <= 0 || r.P50us <= 0 || r.P99us < r.P50us {
			t.Fatalf("implausible result %+v", r)
		}
		if r.Store != w.store || r.Replicas != w.replicas {
			t.Fatalf("%+v: labelled store %q with %d replicas, want %q with %d", r, r.Store, r.Replicas, w.store, w.replicas)
		}
		if r.Store == "postgres" {
			measured += r.Calls
		}
	}
	for m := range want {
		if seen[m] != 2 {
			t.Fatalf("mode %s measured %d times, want 2: %v", m, seen[m], seen)
		}
	}

	db, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	sessions, err := db.Sessions(ctx, store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var calls, results, takeovers int
	for _, s := range sessions {
		evs, err := db.Events(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			switch {
			case e.Kind == store.KindCall && e.Tool == "echo" && e.Verdict == "allow":
				calls++
			case e.Kind == store.KindResult && e.Tool == "echo":
				results++
			case e.Kind == store.KindSignal && strings.Contains(strings.Join(e.Reasons, " "), "resumed"):
				takeovers++
			}
		}
	}
	// Warm-up calls and calls finishing after the clock stopped come on
	// top of the measured ones.
	if calls < measured || results != calls {
		t.Fatalf("PostgreSQL holds %d echo calls and %d results; the PostgreSQL modes measured %d calls", calls, results, measured)
	}
	if takeovers != 0 {
		t.Fatalf("%d sessions were taken over by another replica while their owner lived: requests were not forwarded", takeovers)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(ctx) })
	owners := map[string]int{}
	rows, err := conn.Query(ctx, "SELECT owner, epoch FROM leases")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var owner string
		var epoch int64
		if err := rows.Scan(&owner, &epoch); err != nil {
			t.Fatal(err)
		}
		if epoch != 1 {
			t.Errorf("a lease of %s at epoch %d: the session changed replicas", owner, epoch)
		}
		owners[owner]++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(owners) < 2 {
		t.Fatalf("sessions served by %v: the balanced mode's sessions did not spread over the replicas", owners)
	}
	rep, err := db.Verify(ctx)
	if err != nil || len(rep.Broken) != 0 || rep.Events == 0 {
		t.Fatalf("Verify: %+v, %v", rep, err)
	}
}
