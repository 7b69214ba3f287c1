package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/warden-dev/warden/store"
)

// pendingWithin refuses, inside tx, one more pending approval for agent
// when it has perAgent already (perAgent 0: no cap). It takes a lock on
// the agent's name held until tx ends, so the count and the insert that
// follows it are one step for every replica.
func pendingWithin(ctx context.Context, tx pgx.Tx, agent string, perAgent int) error {
	if perAgent <= 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended('warden pending approvals ' || $1, 0))", agent); err != nil {
		return err
	}
	var n int
	err := tx.QueryRow(ctx, "SELECT count(*) FROM approvals WHERE agent = $1 AND state = $2 AND expires_ns > $3",
		agent, store.ApprovalPending, time.Now().UnixNano()).Scan(&n)
	if err != nil {
		return err
	}
	if n >= perAgent {
		return fmt.Errorf("agent %q already has %d calls waiting for an approver, its limit: %w", agent, n, store.ErrOverLimit)
	}
	return nil
}
