package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/warden-dev/warden/store"
)

// checkSessionLog adds to rep what the session log and the approvals say
// that the chains alone cannot, as the bbolt store's Verify does: sessions
// deleted whole, ended sessions whose head was moved back below their
// recorded end, session rows that never started, approvals of sessions
// that do not exist. A session already reported broken is not reported
// twice.
func checkSessionLog(ctx context.Context, tx pgx.Tx, rep *store.Report) error {
	started, ended, _, err := readSessionLog(ctx, tx)
	if err != nil {
		return err
	}
	rep.SessionLog = true
	add := rep.BreakOnce()
	rows, err := tx.Query(ctx, `SELECT s.id, s.agent, s.state, s.started_ns, s.body, EXISTS (SELECT 1 FROM events e WHERE e.session = s.id)
		FROM sessions s WHERE s.id <> $1 ORDER BY s.id`, store.SystemLog)
	if err != nil {
		return fmt.Errorf("check the session log: %w", err)
	}
	type row struct {
		rec    store.Session
		events bool
		bad    bool
	}
	recs := map[string]row{}
	var ids []string // in id order, so the report's order is stable
	for rows.Next() {
		var id string
		var body []byte
		var r row
		cols := columns{atName: "started_ns"}
		if err := rows.Scan(&id, &cols.agent, &cols.state, &cols.at, &body, &r.events); err != nil {
			rows.Close()
			return fmt.Errorf("check the session log: %w", err)
		}
		r.rec, err = decodeSession(body)
		r.bad = err != nil // reported by Verify
		if !r.bad {
			if why := cols.differ("", columns{agent: r.rec.Agent, state: r.rec.State, at: r.rec.Started.UnixNano()}); why != "" { // session and expires_ns: not columns of sessions
				add(id, 0, "%s", why)
			}
		}
		recs[id] = r
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("check the session log: %w", err)
	}
	logged := make(map[string]bool, len(started))
	for _, st := range started {
		logged[st.ID] = true
	}
	for _, id := range ids {
		r := recs[id]
		// A row with no events and no head holds nothing (a bbolt crash
		// between a record and its start, copied by an import).
		if logged[id] || r.bad || (r.rec.LastSeq == 0 && !r.events) {
			continue
		}
		add(id, 1, "the session has no start on the system log: recorded outside warden, or its start was removed")
	}
	for _, st := range started {
		id := st.ID
		r, ok := recs[id]
		if !ok {
			add(id, 1, "the system log records the start of this session, but the session is gone: deleted")
			continue
		}
		if r.bad {
			continue
		}
		end, ok := ended[id]
		if why := store.DisagreesWithLog(r.rec, st, end, ok); why != "" {
			add(id, 0, "%s", why)
			continue
		}
		if !ok {
			continue
		}
		reason, err := holdsHead(ctx, tx, r.rec, end.LastSeq, end.Head)
		if err != nil {
			return err
		}
		if reason != "" {
			add(id, end.LastSeq, "the system log recorded this session's end at event %d, but %s", end.LastSeq, reason)
		}
	}
	if err := checkApprovalColumns(ctx, tx, rep); err != nil {
		return err
	}
	return checkApprovals(ctx, tx, rep)
}

// holdsHead says why the chain of s does not hold event seq with hash
// ("" when it does).
func holdsHead(ctx context.Context, tx pgx.Tx, s store.Session, seq uint64, hash string) (string, error) {
	switch {
	case seq == 0:
		return "", nil
	case seq > s.LastSeq:
		return fmt.Sprintf("its chain now ends at event %d: cut, and its head rewritten to match", s.LastSeq), nil
	case seq == s.LastSeq && s.Head != hash:
		return fmt.Sprintf("event %d is not the one recorded then: rewritten", seq), nil
	case seq == s.LastSeq:
		return "", nil
	}
	evs, err := readChain(ctx, tx, s.ID, seq-1, 1)
	if err != nil {
		return "", fmt.Errorf("check the session log: event %d of %q: %w", seq, s.ID, err)
	}
	switch {
	case len(evs) == 0 || evs[0].Seq != seq:
		return fmt.Sprintf("event %d is missing: deleted", seq), nil
	case evs[0].Hash != hash:
		return fmt.Sprintf("event %d is not the one recorded then: rewritten", seq), nil
	}
	return "", nil
}

// checkApprovals reports approvals that name a session with no row.
func checkApprovals(ctx context.Context, tx pgx.Tx, rep *store.Report) error {
	rows, err := tx.Query(ctx, `SELECT a.id, a.session FROM approvals a
		WHERE a.session = $1 OR NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id = a.session) ORDER BY a.id`, store.SystemLog)
	if err != nil {
		return fmt.Errorf("check approvals: %w", err)
	}
	orphans, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct{ ID, Session string }])
	if err != nil {
		return fmt.Errorf("check approvals: %w", err)
	}
	for _, a := range orphans {
		rep.Broken = append(rep.Broken, store.Break{Session: a.Session,
			Reason: fmt.Sprintf("approval %s names this session, which does not exist: deleted, or the approval forged", a.ID)})
	}
	return nil
}
