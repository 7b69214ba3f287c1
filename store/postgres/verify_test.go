package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/store"
)

// TestVerifyFindsTampering edits the tables directly, as someone with the
// database's password could, and checks that Verify names the session and
// why. Each case gets a fresh database with one session of four events.
func TestVerifyFindsTampering(t *testing.T) {
	base := testkit.Postgres(t)
	cases := []struct {
		name, sql string
		seq       uint64
		reason    string
	}{
		{"an event's field edited", `UPDATE events SET body = convert_to(replace(convert_from(body, 'UTF8'), '"tool":"t2"', '"tool":"tx"'), 'UTF8') WHERE session = 's1' AND seq = 2`, 2, "hash mismatch"},
		{"an event deleted", `DELETE FROM events WHERE session = 's1' AND seq = 3`, 3, "is missing"},
		{"the tail cut", `DELETE FROM events WHERE session = 's1' AND seq = 4`, 4, "tail truncated"},
		{"the session row deleted", `DELETE FROM sessions WHERE id = 's1'`, 1, "no session record"},
		{"an event rewritten whole, hash and all", `UPDATE events SET body = (SELECT body FROM events WHERE session = 's1' AND seq = 1), seq = 5 WHERE session = 's1' AND seq = 4`, 4, "is missing"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			name := fmt.Sprintf("tamper_%d", i)
			db := openFresh(t, base, name)
			ctx := context.Background()
			if err := db.CreateSession(ctx, store.Session{ID: "s1", Agent: "a"}); err != nil {
				t.Fatal(err)
			}
			for _, tool := range []string{"t1", "t2", "t3", "t4"} {
				if _, err := db.Append(ctx, "s1", store.Event{Kind: store.KindCall, Tool: tool}); err != nil {
					t.Fatal(err)
				}
			}
			if rep, err := db.Verify(ctx); err != nil || len(rep.Broken) != 0 || rep.Events != 5 { // s1's four, and its start on the session log
				t.Fatalf("before: %+v, %v", rep, err)
			}
			execOn(t, base, name, tc.sql)
			rep, err := db.Verify(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Broken) != 1 || rep.Broken[0].Session != "s1" || rep.Broken[0].Seq != tc.seq || !strings.Contains(rep.Broken[0].Reason, tc.reason) {
				t.Fatalf("Verify found %+v; want s1 broken at %d: ...%s...", rep.Broken, tc.seq, tc.reason)
			}
		})
	}
}

// execOn runs sql on database name of base's cluster.
func execOn(t *testing.T, base, name, sql string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL(t, base, name))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if tag, err := conn.Exec(ctx, sql); err != nil || tag.RowsAffected() == 0 {
		t.Fatalf("%s: %v (%d rows)", sql, err, tag.RowsAffected())
	}
}
