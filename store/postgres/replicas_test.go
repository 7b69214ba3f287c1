package postgres_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/store/postgres"
)

// TestRoute: a session's requests are routed to the live replica that
// holds its lease; a dead owner (heartbeat older than the expiry, or
// deregistered) and a previous run of this replica's own name leave it
// to be taken over.
func TestRoute(t *testing.T) {
	base := testkit.Postgres(t)
	ctx := context.Background()
	r := replicas(t, base, "route", "a", "b")
	a, b := r[0], r[1]
	if err := a.CreateSession(ctx, store.Session{ID: "s1", Agent: "ag"}); err != nil {
		t.Fatal(err)
	}
	for name, db := range map[string]*postgres.DB{"a": a, "b": b} {
		if err := db.Heartbeat(ctx, "http://"+name); err != nil {
			t.Fatal(err)
		}
	}
	// A process started again under a's name, which never took the lease.
	again, err := postgres.Open(ctx, dbURL(t, base, "route"), postgres.WithReplica("a"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = again.Close() })

	check := func(when string, cases ...routeCase) {
		t.Helper()
		for _, c := range cases {
			here, url, _, err := c.db.Route(ctx, "s1")
			if err != nil || here != c.here || url != c.url {
				t.Errorf("%s: Route on %s = %v %q %v, want %v %q", when, c.name, here, url, err, c.here, c.url)
			}
		}
	}
	check("a holds it and heartbeats", routeCase{"a", a, true, ""}, routeCase{"b", b, false, "http://a"}, routeCase{"a again", again, false, ""})
	if _, url, epoch, err := b.Route(ctx, "unknown"); err != nil || url != "" || epoch != 0 {
		t.Errorf("Route of a session without a lease: %q %d %v", url, epoch, err)
	}

	execOn(t, base, "route", "UPDATE replicas SET heartbeat = now() - interval '6 seconds' WHERE id = 'a'")
	check("a's heartbeat is older than the expiry", routeCase{"b", b, false, ""})

	if err := a.Heartbeat(ctx, "http://a"); err != nil {
		t.Fatal(err)
	}
	check("a heartbeats again", routeCase{"b", b, false, "http://a"})
	if err := a.Deregister(ctx); err != nil {
		t.Fatal(err)
	}
	check("a deregistered", routeCase{"b", b, false, ""})

	// a is dead to both b and again: one of them takes the session over.
	_, _, seen, err := b.Route(ctx, "s1")
	if err != nil || seen != 1 {
		t.Fatalf("Route: epoch %d, %v; want 1", seen, err)
	}
	if took, err := b.TakeOver(ctx, "s1", seen); err != nil || !took {
		t.Fatalf("b takes over from epoch %d: %v %v", seen, took, err)
	}
	if took, err := again.TakeOver(ctx, "s1", seen); err != nil || took {
		t.Fatalf("a's second run takes over from epoch %d after b did: %v %v; want refused", seen, took, err)
	}
	check("b took it over", routeCase{"a", a, false, "http://b"}, routeCase{"b", b, true, ""})
}

// routeCase is what Route on one replica should say.
type routeCase struct {
	name string
	db   *postgres.DB
	here bool
	url  string
}

// TestClusterSecret: every replica of a database gets the same secret,
// made once, of at least 32 bytes.
func TestClusterSecret(t *testing.T) {
	base := testkit.Postgres(t)
	r := replicas(t, base, "secret", "a", "b")
	ctx := context.Background()
	sa, err := r[0].ClusterSecret(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := r[1].ClusterSecret(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(sa) < 32 || !bytes.Equal(sa, sb) {
		t.Fatalf("secrets: %x and %x; want one of at least 32 bytes", sa, sb)
	}
}
