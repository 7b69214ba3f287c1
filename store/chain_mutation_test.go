package store

import (
	"context"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestVerifyRefusesTrailingBytes: bytes appended after a stored event's
// JSON are not hashed, so Verify must call the event broken rather than
// ignore what follows it.
func TestVerifyRefusesTrailingBytes(t *testing.T) {
	db, path := openTest(t)
	ctx := context.Background()
	mustCreate(t, db, "s1", "a", time.Now())
	for range 3 {
		mustAppend(t, db, "s1", "read")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	tamper(t, path, func(t *testing.T, tx *bolt.Tx) {
		b := chainOf(tx, "s1")
		put(t, b, seqKey(2), append(append([]byte(nil), b.Get(seqKey(2))...), ` {"hidden": true}`...))
	})
	db2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db2.Close() })
	rep, err := db2.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Broken) != 1 || rep.Broken[0].Seq != 2 || !strings.Contains(rep.Broken[0].Reason, "trailing data") {
		t.Fatalf("Verify = %+v, want event 2 of s1 broken by trailing data", rep.Broken)
	}
}
