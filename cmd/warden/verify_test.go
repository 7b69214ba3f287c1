package main

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/warden-dev/warden/store"
)

// TestVerifyReportsAlteredState: `warden verify` exits non-zero and names
// the session whose recorded state was edited in the file, and says
// intact, with a note, for state that no event commits to.
func TestVerifyReportsAlteredState(t *testing.T) {
	for _, tc := range []struct {
		name     string
		withData bool // the state is written with its event
		want     string
		exit     bool
	}{
		{"committed state edited", true, "state was altered", true},
		{"uncommitted state", false, "1 sessions hold state that no event commits to", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "warden.db")
			db, err := store.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if err := db.CreateSession(ctx, store.Session{ID: "s1", Agent: "a", Data: json.RawMessage(`{"vars":{"accounts":["c1 DE00"]}}`)}); err != nil {
				t.Fatal(err)
			}
			ev := store.Event{Kind: store.KindSessionStart}
			if tc.withData {
				_, err = db.AppendWithData(ctx, "s1", ev, json.RawMessage(`{"vars":{"accounts":["c1 DE00"]}}`))
			} else {
				_, err = db.Append(ctx, "s1", ev)
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if tc.withData {
				editSessionData(t, path, "s1", `{"vars":{"accounts":["c1 DE00","c1 ATTACKER"]}}`)
			}
			out, err := printed((&verifyCmd{historyFlags: historyFlags{DB: path}}).Run)
			var exit exitError
			if got := errors.As(err, &exit) && exit.code == 1; got != tc.exit {
				t.Fatalf("exit error %v, want one: %v\n%s", err, tc.exit, out)
			}
			if msg := out + exit.msg; !strings.Contains(msg, tc.want) {
				t.Fatalf("verify said %q; want %q", msg, tc.want)
			}
		})
	}
}

// editSessionData sets a session record's data in the file directly.
func editSessionData(t *testing.T, path, id, data string) {
	t.Helper()
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	err = bdb.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("sessions"))
		var rec map[string]json.RawMessage
		if err := json.Unmarshal(b.Get([]byte(id)), &rec); err != nil {
			return err
		}
		rec["data"] = json.RawMessage(data)
		v, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		return b.Put([]byte(id), v)
	})
	if err != nil {
		t.Fatal(err)
	}
}
