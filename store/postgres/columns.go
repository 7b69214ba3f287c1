package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/warden-dev/warden/store"
)

// columns are the copies of a record's fields kept beside its body (the
// JSON the store reads back) so that queries can filter and order on
// them: listings (`warden sessions --agent`), the cap on an agent's
// pending approvals, the expiry of approvals. No chain hashes them, so
// Verify compares them with the body: an edit of one alone would make
// warden act on, or list, something the record does not say.
type columns struct {
	session, agent, state string
	at, expires           int64 // started_ns or created_ns; expires_ns
	atName                string
}

// differ says which column of a row disagrees with want, the values its
// body gives ("" when none); what prefixes the reason.
func (c columns) differ(what string, want columns) string {
	for _, f := range []struct {
		name     string
		got, rec any
	}{
		{"session", c.session, want.session},
		{"agent", c.agent, want.agent},
		{"state", c.state, want.state},
		{c.atName, c.at, want.at},
		{"expires_ns", c.expires, want.expires},
	} {
		if f.got != f.rec {
			return fmt.Sprintf("%sits row's %s column says %q, its record %q: edited outside warden", what, f.name, fmt.Sprint(f.got), fmt.Sprint(f.rec))
		}
	}
	return ""
}

// checkApprovalColumns reports approvals whose columns disagree with
// their bodies, under the session their record names.
func checkApprovalColumns(ctx context.Context, tx pgx.Tx, rep *store.Report) error {
	rows, err := tx.Query(ctx, `SELECT id, session, agent, state, created_ns, expires_ns, body FROM approvals ORDER BY id`)
	if err != nil {
		return fmt.Errorf("check approvals: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		c := columns{atName: "created_ns"}
		var body []byte
		if err := rows.Scan(&id, &c.session, &c.agent, &c.state, &c.at, &c.expires, &body); err != nil {
			return fmt.Errorf("check approvals: %w", err)
		}
		a, err := decodeApproval(body)
		if err != nil {
			rep.Broken = append(rep.Broken, store.Break{Reason: fmt.Sprintf("approval %q: %v", id, err)})
			continue
		}
		want := columns{session: a.Session, agent: a.Agent, state: a.State, at: a.Created.UnixNano(), expires: a.Expires.UnixNano()}
		if why := c.differ("approval "+id+": ", want); why != "" {
			rep.Broken = append(rep.Broken, store.Break{Session: a.Session, Reason: why})
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("check approvals: %w", err)
	}
	return nil
}
