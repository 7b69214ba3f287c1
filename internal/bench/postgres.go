package bench

import (
	"context"
	"fmt"
	neturl "net/url"
	"path/filepath"

	disposable "github.com/warden-dev/warden/internal/throwaway"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/store/postgres"
	"github.com/warden-dev/warden/tools"
)

// postgresModes are the PostgreSQL comparison's: the hop, warden on
// bbolt, one warden on PostgreSQL, and three warden replicas on that
// database behind a round-robin balancer without stickiness. Every warden
// shares one upstream session (tools.Shared), so that where the history
// goes is all they differ in. The replicas run in this process, each a
// Supervisor with its own store (named replica, its own connection pool)
// and its own upstream session, on loopback ports of their own.
var postgresModes = []string{"hop", "warden", "warden-postgres", "warden-postgres-3-replicas"}

// replicas is how many wardens the last PostgreSQL mode balances over.
const replicas = 3

// noStore is the hop's Store label: "none" in the PostgreSQL comparison,
// nothing in the default run.
func noStore(opts Options) string {
	if opts.PostgresURL == "" {
		return ""
	}
	return "none"
}

// startPostgresModes starts the PostgreSQL comparison's warden modes.
func startPostgresModes(ctx context.Context, r *rig, opts Options, upURL string, targets map[string]target) error {
	bolt, err := store.Open(filepath.Join(opts.Dir, "warden.db"))
	if err != nil {
		return fmt.Errorf("bench warden: %w", err)
	}
	t, err := r.startWarden(ctx, upURL, bolt, tools.Shared)
	if err != nil {
		return fmt.Errorf("bench warden: %w", err)
	}
	t.store, t.replicas = "bbolt", 1
	targets["warden"] = t

	pg, err := postgres.Open(ctx, opts.PostgresURL)
	if err != nil {
		return fmt.Errorf("bench warden-postgres: %w", err)
	}
	if t, err = r.startWarden(ctx, upURL, pg, tools.Shared); err != nil {
		return fmt.Errorf("bench warden-postgres: %w", err)
	}
	t.store, t.replicas = "postgres", 1
	targets["warden-postgres"] = t

	if t, err = r.startReplicas(ctx, opts, upURL); err != nil {
		return fmt.Errorf("bench warden-postgres-3-replicas: %w", err)
	}
	targets["warden-postgres-3-replicas"] = t
	return nil
}

// startReplicas starts the replicas on opts.PostgresURL, named
// bench-r0..., and the balancer in front of them.
func (r *rig) startReplicas(ctx context.Context, opts Options, upURL string) (target, error) {
	var backends []string
	var counts []func() int
	for i := range replicas {
		db, err := postgres.Open(ctx, opts.PostgresURL, postgres.WithReplica(fmt.Sprintf("bench-r%d", i)))
		if err != nil {
			return target{}, err
		}
		t, err := r.startWardenAs(ctx, upURL, db, tools.Shared, true)
		if err != nil {
			return target{}, err
		}
		u, err := neturl.Parse(t.url)
		if err != nil {
			return target{}, err
		}
		backends, counts = append(backends, u.Host), append(counts, t.upstreamSessions)
	}
	balance := opts.Balance
	if balance == nil {
		balance = haproxy
	}
	addr, stop, err := balance(ctx, backends)
	if err != nil {
		return target{}, err
	}
	r.closers = append(r.closers, stop)
	return target{url: "http://" + addr + "/mcp", token: benchToken, store: "postgres", replicas: replicas, upstreamSessions: func() int {
		n := 0
		for _, c := range counts {
			n += c()
		}
		return n
	}}, nil
}

// haproxy is the default balancer: a throwaway HAProxy.
func haproxy(ctx context.Context, backends []string) (string, func(), error) {
	h, err := disposable.StartHAProxy(ctx, backends...)
	if err != nil {
		return "", nil, err
	}
	return h.Addr, func() { _ = h.Stop() }, nil
}
