package store

import (
	"context"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestCopiedChainsFillTheirPages: the copier fills a session's event
// pages rather than splitting them half full (bbolt's default), since a
// chain only grows at its end; half-full pages double what every copy
// allocates and writes.
func TestCopiedChainsFillTheirPages(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	mustCreate(t, db, "s1", "a", time.Now())
	for range 2000 {
		mustAppend(t, db, "s1", "an event long enough that a page holds a few dozen of them")
	}
	if err := db.j.flush(ctx); err != nil {
		t.Fatal(err)
	}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		st := tx.Bucket(bucketEvents).Bucket([]byte("s1")).Stats()
		used := float64(st.LeafInuse) / float64(st.LeafPageN*tx.DB().Info().PageSize)
		t.Logf("%d leaf pages, %.0f%% used", st.LeafPageN, 100*used)
		if st.LeafPageN < 10 || used < 0.8 {
			t.Errorf("the chain's %d leaf pages are %.0f%% used; want at least 10 pages, 80%% used", st.LeafPageN, 100*used)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
