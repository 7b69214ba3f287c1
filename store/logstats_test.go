package store

import (
	"testing"
	"time"
)

// TestLogStats checks the log's counters on a real file: every append is
// counted once, made durable by at least one fdatasync and by no more than
// one each, with time spent in both; a store without a log reports zeros.
func TestLogStats(t *testing.T) {
	db, _ := openTest(t)
	mustCreate(t, db, "s1", "a", time.Now())
	before := db.LogStats()
	const n = 5
	for range n {
		mustAppend(t, db, "s1", "x")
	}
	after := db.LogStats()
	appends, syncs := after.Appends-before.Appends, after.Syncs-before.Syncs
	if appends != n || syncs < 1 || syncs > n {
		t.Fatalf("%d appends in %d fdatasyncs counted, want %d in 1 to %d", appends, syncs, n, n)
	}
	if after.SyncTime <= before.SyncTime || after.Wait <= before.Wait {
		t.Fatalf("no time counted: %+v then %+v", before, after)
	}

	naive, err := Open(t.TempDir()+"/naive.db", func(o *options) { o.naive = true })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { naive.Close() })
	mustCreate(t, naive, "s1", "a", time.Now())
	mustAppend(t, naive, "s1", "x")
	if got := naive.LogStats(); got != (LogStats{}) {
		t.Fatalf("a store without a log reports %+v", got)
	}
}
