package supervisor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/tools"
)

// testAgentToken is the bearer token of the agent "ops" in tests.
const testAgentToken = "ops-token-0123456789abcdef"

func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// startTestSupervisor starts a Supervisor on a fresh bbolt file in front
// of specs, with one agent, ops; tweak adjusts its options. It is closed,
// with its hub and store, at cleanup.
func startTestSupervisor(t testing.TB, specs []tools.Spec, tweak func(*Options)) (*Supervisor, *store.DB) {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "warden.db"))
	if err != nil {
		t.Fatal(err)
	}
	hub, err := tools.NewHub(specs, tools.Options{})
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Hub: hub, Store: db, Agents: []Agent{{Name: "ops", TokenSHA256: tokenHash(testAgentToken)}}}
	if tweak != nil {
		tweak(&opts)
	}
	sup, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sup.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := sup.Close(context.Background()); err != nil {
			t.Errorf("close supervisor: %v", err)
		}
		_ = hub.Close()
		if err := db.Close(); err != nil && !errors.Is(err, store.ErrClosed) {
			t.Errorf("close store: %v", err)
		}
	})
	return sup, db
}
