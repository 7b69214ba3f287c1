package testkit

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/warden-dev/warden/internal/throwaway"
)

// Postgres starts a throwaway PostgreSQL cluster for t
// (throwaway.StartPostgres) and returns the URL of an empty database in
// it. The cluster is stopped and removed at cleanup. It skips t only when
// PostgreSQL is not installed (.ci/run installs Debian's postgresql).
func Postgres(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pg, err := throwaway.StartPostgres(ctx)
	if errors.Is(err, throwaway.ErrMissing) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := pg.Stop(); err != nil {
			t.Error(err)
		}
	})
	return pg.URL
}
