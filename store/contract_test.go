package store_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/store/storetest"
)

// TestContract runs store.Store's contract on the bbolt store.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		db, err := store.Open(filepath.Join(t.TempDir(), "warden.db"), store.WithSessionLog())
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() {
			if err := db.Close(); err != nil && !errors.Is(err, store.ErrClosed) {
				t.Errorf("Close: %v", err)
			}
		})
		return db
	})
}
