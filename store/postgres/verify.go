package postgres

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/warden-dev/warden/store"
)

// Verify recomputes every chain with the bbolt store's check
// (store.CheckChain) and compares each with its session row's head. It
// reads in one repeatable-read transaction, so that appends running
// meanwhile are not seen half done. It then checks the sessions and
// approvals against the session log (sessionlog.go), as the bbolt store
// does.
func (d *DB) Verify(ctx context.Context) (store.Report, error) {
	if d.closed.Load() {
		return store.Report{}, store.ErrClosed
	}
	var rep store.Report
	err := pgx.BeginTxFunc(ctx, d.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		rep = store.Report{}
		rows, err := tx.Query(ctx, `SELECT s.id, s.body FROM sessions s UNION ALL
			SELECT DISTINCT e.session, NULL::bytea FROM events e WHERE NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id = e.session) ORDER BY 1`)
		if err != nil {
			return err
		}
		type chain struct {
			id   string
			body []byte
		}
		chains, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (chain, error) {
			var c chain
			return c, r.Scan(&c.id, &c.body)
		})
		if err != nil {
			return err
		}
		for _, c := range chains {
			rep.Sessions++
			var rec *store.Session
			if c.body != nil {
				s, err := decodeSession(c.body)
				if err != nil {
					rep.Broken = append(rep.Broken, store.Break{Session: c.id, Reason: fmt.Sprintf("session record: %v", err)})
					continue
				}
				rec = &s
			}
			n, brk, committed, err := checkChain(ctx, tx, c.id, rec)
			rep.Events += n
			if err != nil {
				return err
			}
			if brk != nil {
				rep.Broken = append(rep.Broken, *brk)
			} else if rec != nil && len(rec.Data) > 0 && string(rec.Data) != "null" && !committed {
				rep.Uncommitted++
			}
		}
		return checkSessionLog(ctx, tx, &rep)
	})
	if err != nil {
		return store.Report{}, fmt.Errorf("store: verify: %w", err)
	}
	return rep, nil
}

// checkChain streams one session's events, in seq order, through
// store.CheckChain.
func checkChain(ctx context.Context, tx pgx.Tx, id string, rec *store.Session) (int, *store.Break, bool, error) {
	rows, err := tx.Query(ctx, "SELECT seq, body FROM events WHERE session = $1 ORDER BY seq", id)
	if err != nil {
		return 0, nil, false, err
	}
	defer rows.Close()
	var scanErr error
	next := func() (k, v []byte) {
		if !rows.Next() {
			return nil, nil
		}
		var seq int64
		var body []byte
		if scanErr = rows.Scan(&seq, &body); scanErr != nil {
			return nil, nil
		}
		k = binary.BigEndian.AppendUint64(nil, uint64(seq))
		if body == nil {
			body = []byte{} // a NULL body is a broken event, not the end
		}
		return k, body
	}
	n, brk, committed, err := store.CheckChain(ctx, id, rec, next)
	if err == nil {
		err = scanErr
	}
	if err == nil {
		err = rows.Err()
	}
	return n, brk, committed, err
}
