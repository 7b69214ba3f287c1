package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/warden-dev/warden/store"
)

// Source is a history to import: store.DB (the bbolt file) is one.
type Source interface {
	Sessions(ctx context.Context, f store.Filter) ([]store.Session, error)
	Session(ctx context.Context, id string) (store.Session, error)
	Events(ctx context.Context, sessionID string) ([]store.Event, error)
	Approvals(ctx context.Context, f store.ApprovalFilter) ([]store.Approval, error)
	AgentRecords(ctx context.Context) (map[string]store.AgentRecord, error)
	Pins(ctx context.Context) (map[string]string, error)
	SavedBaselines(ctx context.Context) (map[string]json.RawMessage, error)
}

// Imported counts what Import copied.
type Imported struct {
	Sessions, Events, Approvals, Pins, Agents, Baselines int
}

// Import copies src into this database, which must hold no history yet,
// in one transaction: every session record (the system log's included)
// as it is, every event with its seq, prev and hash unchanged, and the
// approvals, pins, agent records and baselines. Sessions the source's
// session log does not hold are adopted onto it (as migration 0006 does
// for a database). Run Verify after it: the copied chains must verify as
// they did. A history whose events were pruned is refused, as this store
// does not keep tombstones yet.
func (d *DB) Import(ctx context.Context, src Source) (Imported, error) {
	var n Imported
	sessions, err := src.Sessions(ctx, store.Filter{})
	if err != nil {
		return n, fmt.Errorf("import: %w", err)
	}
	if sys, err := src.Session(ctx, store.SystemLog); err == nil {
		sessions = append(sessions, sys)
	} else if !errors.Is(err, store.ErrNotFound) {
		return n, fmt.Errorf("import: %w", err)
	}
	approvals, err := src.Approvals(ctx, store.ApprovalFilter{})
	if err != nil {
		return n, fmt.Errorf("import: %w", err)
	}
	agents, err := src.AgentRecords(ctx)
	if err != nil {
		return n, fmt.Errorf("import: %w", err)
	}
	pins, err := src.Pins(ctx)
	if err != nil {
		return n, fmt.Errorf("import: %w", err)
	}
	baselines, err := src.SavedBaselines(ctx)
	if err != nil {
		return n, fmt.Errorf("import: %w", err)
	}
	err = d.tx(ctx, func(tx pgx.Tx) error {
		n = Imported{}
		var held bool
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM sessions) OR EXISTS (SELECT 1 FROM events)").Scan(&held); err != nil {
			return err
		}
		if held {
			return errors.New("the database already holds a history; import only into an empty one")
		}
		for _, s := range sessions {
			if err := importSession(ctx, tx, src, s, &n); err != nil {
				return err
			}
		}
		for _, a := range approvals {
			if _, err := tx.Exec(ctx, `INSERT INTO approvals (id, session, agent, state, created_ns, expires_ns, body) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
				a.ID, a.Session, a.Agent, a.State, a.Created.UnixNano(), a.Expires.UnixNano(), mustJSON(&a)); err != nil {
				return fmt.Errorf("approval %q: %w", a.ID, err)
			}
			n.Approvals++
		}
		for k, v := range pins {
			if _, err := tx.Exec(ctx, "INSERT INTO pins (key, value) VALUES ($1, $2)", k, v); err != nil {
				return fmt.Errorf("pin %q: %w", k, err)
			}
			n.Pins++
		}
		for name, rec := range agents {
			if _, err := tx.Exec(ctx, "INSERT INTO agents (name, body) VALUES ($1, $2)", name, mustJSON(&rec)); err != nil {
				return fmt.Errorf("agent %q: %w", name, err)
			}
			n.Agents++
		}
		for agent, data := range baselines {
			if _, err := tx.Exec(ctx, "INSERT INTO baselines (agent, data) VALUES ($1, $2)", agent, []byte(data)); err != nil {
				return fmt.Errorf("baseline of %q: %w", agent, err)
			}
			n.Baselines++
		}
		return adoptSessions(ctx, tx) // a source that kept no session log
	})
	if err != nil {
		return Imported{}, fmt.Errorf("import: %w", err)
	}
	return n, nil
}

// importSession copies one session record and its chain. Events are
// stored as json.Marshal encodes them, which is the bbolt store's stored
// form (its events are normalised before they are hashed).
func importSession(ctx context.Context, tx pgx.Tx, src Source, s store.Session, n *Imported) error {
	evs, err := src.Events(ctx, s.ID)
	if err != nil {
		return err
	}
	if s.LastSeq > 0 && (len(evs) == 0 || evs[0].Seq != 1) {
		return fmt.Errorf("session %q: its first events were pruned by retention, which this store does not keep yet", s.ID)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO sessions (id, agent, state, started_ns, body) VALUES ($1, $2, $3, $4, $5)",
		s.ID, s.Agent, s.State, s.Started.UnixNano(), mustJSON(&s)); err != nil {
		return fmt.Errorf("session %q: %w", s.ID, err)
	}
	n.Sessions++
	rows := make([][]any, len(evs))
	for i := range evs {
		rows[i] = []any{s.ID, int64(evs[i].Seq), mustJSON(&evs[i])}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"events"}, []string{"session", "seq", "body"}, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("events of %q: %w", s.ID, err)
	}
	n.Events += len(evs)
	return nil
}
