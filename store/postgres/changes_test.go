package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/store/postgres"
)

// TestWatch: a change committed by one replica reaches another's Watch.
// With an hour's poll, only the notification can bring it in time; a row
// written with no notification (one missed) comes with the poll.
func TestWatch(t *testing.T) {
	base := testkit.Postgres(t)
	cases := []struct {
		name       string
		poll       time.Duration
		kind, subj string
		write      func(t *testing.T, db *postgres.DB, name string)
	}{
		{"a kill, notified", time.Hour, postgres.ChangeSession, "s1", func(t *testing.T, db *postgres.DB, _ string) {
			if err := db.UpdateSession(context.Background(), "s1", func(s *store.Session) error { s.State = store.StateKilled; return nil }); err != nil {
				t.Fatal(err)
			}
		}},
		{"a decision, notified", time.Hour, postgres.ChangeApproval, "ap1", func(t *testing.T, db *postgres.DB, _ string) {
			if _, err := db.DecideApproval(context.Background(), "ap1", store.DecisionOnce, "alice", time.Now()); err != nil {
				t.Fatal(err)
			}
		}},
		{"a suspension, notified", time.Hour, postgres.ChangeAgent, "ag", func(t *testing.T, db *postgres.DB, _ string) {
			if err := db.SetAgentSuspended(context.Background(), store.AgentRecord{Name: "ag", Suspended: true, By: "alice", Changed: time.Now()}); err != nil {
				t.Fatal(err)
			}
		}},
		{"a policy announced, notified", time.Hour, postgres.ChangePolicy, "d1", func(t *testing.T, db *postgres.DB, _ string) {
			if err := db.AnnouncePolicy(context.Background(), "d1"); err != nil {
				t.Fatal(err)
			}
		}},
		{"a missed notification, polled", 200 * time.Millisecond, postgres.ChangeSession, "s9", func(t *testing.T, _ *postgres.DB, name string) {
			execOn(t, base, name, "INSERT INTO changes (kind, subject) VALUES ('session', 's9')")
		}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			name := fmt.Sprintf("watch_%d", i)
			r := replicas(t, base, name, "a", "b")
			a, b := r[0], r[1]
			ctx := context.Background()
			if err := b.CreateSession(ctx, store.Session{ID: "s1", Agent: "ag"}); err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			if err := b.CreateApproval(ctx, store.Approval{ID: "ap1", Session: "s1", Agent: "ag", Tool: "t", Created: now, Expires: now.Add(time.Hour), State: store.ApprovalPending}); err != nil {
				t.Fatal(err)
			}
			got := make(chan string, 16)
			wctx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- a.Watch(wctx, tc.poll, func(kind, subj string) { got <- kind + ":" + subj }) }()
			t.Cleanup(func() { cancel(); <-done })
			// The watch must be listening before the write: one poll reads
			// from its start, and a change before it is not reported.
			testkit.WaitFor(t, 10*time.Second, "the watcher listening", func() bool { return listening(t, base, name) })
			tc.write(t, b, name)
			want := tc.kind + ":" + tc.subj
			for {
				if g := testkit.Recv(t, got, 10*time.Second, want); g == want {
					break
				}
			}
		})
	}
}

// listening reports whether a session of database name listens.
func listening(t *testing.T, base, name string) bool {
	t.Helper()
	var n int
	queryOn(t, base, name, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN %' AND datname = current_database()", &n)
	return n > 0
}

// queryOn reads one row of sql on database name of base's cluster.
func queryOn(t *testing.T, base, name, sql string, dest ...any) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL(t, base, name))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, sql).Scan(dest...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
