package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/warden-dev/warden/store"
)

// A suspension is fenced like a kill: once SetAgentSuspended commits, no
// replica records a call of that agent going ahead, whether or not it has
// heard of the suspension yet. The append of such a call takes a shared
// advisory lock on the agent's name and reads the agent's record in its
// own transaction; SetAgentSuspended takes the same lock exclusively, so
// the two are ordered: a call recorded before the suspension commits went
// ahead before it, and one after is refused (store.ErrAgentSuspended).

// agentLock is the advisory lock key of an agent's suspension.
const agentLock = "SELECT pg_advisory_xact_lock%s(hashtextextended('warden_agent:' || %s, 0))"

// goesAhead reports whether ev records a call that will be forwarded:
// a call, resource read, prompt or completion whose verdict lets it go
// (allow, flag, or throttle not refused), or the approval of a held call,
// which is what lets that call go (its call event was a step-up).
func goesAhead(ev store.Event) bool {
	switch ev.Kind {
	case store.KindApproval:
		return ev.Verdict == store.ApprovalApproved
	case store.KindCall, store.KindResourceRead, store.KindPromptGet, store.KindCompletion:
	default:
		return false
	}
	switch ev.Verdict {
	case "allow", "flag":
		return true
	case "throttle":
		var d struct {
			Refused bool `json:"refused"`
		}
		return json.Unmarshal(ev.Data, &d) != nil || !d.Refused
	}
	return false
}

// checkNotSuspended refuses, inside tx, a call of sessionID's agent when
// the agent is suspended; the shared lock it takes holds off a
// suspension of the agent until tx ends.
func checkNotSuspended(ctx context.Context, tx pgx.Tx, sessionID string) error {
	b := &pgx.Batch{}
	b.Queue(fmt.Sprintf(agentLock, "_shared", "(SELECT agent FROM sessions WHERE id = $1)"), sessionID)
	b.Queue("SELECT a.body FROM sessions s JOIN agents a ON a.name = s.agent WHERE s.id = $1", sessionID)
	res := tx.SendBatch(ctx, b)
	if _, err := res.Exec(); err != nil {
		_ = res.Close()
		return fmt.Errorf("lock the agent's suspension: %w", err)
	}
	var body []byte
	err := res.QueryRow().Scan(&body)
	if cerr := res.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // never suspended
	}
	if err != nil {
		return fmt.Errorf("read the agent's suspension: %w", err)
	}
	var rec store.AgentRecord
	if err := json.Unmarshal(body, &rec); err != nil {
		return fmt.Errorf("read the agent's suspension: %w", err)
	}
	if rec.Suspended {
		return fmt.Errorf("%w (%s)", store.ErrAgentSuspended, rec.Name)
	}
	return nil
}
