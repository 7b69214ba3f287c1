package postgres_test

import (
	"context"
	"fmt"
	"net/url"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/store/postgres"
	"github.com/warden-dev/warden/store/storetest"
)

// TestContract runs store.Store's contract on PostgreSQL: one throwaway
// cluster, a fresh database per subtest.
func TestContract(t *testing.T) {
	base := testkit.Postgres(t)
	n := 0
	storetest.Run(t, func(t *testing.T) store.Store {
		n++
		return openFresh(t, base, fmt.Sprintf("contract_%d", n))
	})
}

// openFresh creates database name in base's cluster and opens a store on it.
func openFresh(t testing.TB, base, name string) *postgres.DB {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	db, err := postgres.Open(ctx, dbURL(t, base, name))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// dbURL is base with its database replaced by name.
func dbURL(t testing.TB, base, name string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", base, err)
	}
	u.Path = "/" + name
	return u.String()
}
