package postgres_test

import (
	"fmt"
	"testing"

	"github.com/warden-dev/warden/internal/testkit"
)

// setBody rewrites one JSON field of a row's body, keeping it valid JSON.
func setBody(table, id, field, value string) string {
	return fmt.Sprintf(`UPDATE %s SET body = convert_to(jsonb_set(convert_from(body, 'UTF8')::jsonb, '{%s}', '%q')::text, 'UTF8') WHERE id = '%s'`,
		table, field, value, id)
}

// TestVerifyFindsRowsEditedOutsideTheChain edits what no chain hashes, as
// someone with the database's password could: a session row's record
// (its agent, which resume trusts to say whose the session is; its state,
// which decides whether it may be resumed) and the columns beside the
// records (agent, state and times, which listings, `warden sessions
// --agent`, the expiry of approvals and the cap on an agent's pending
// approvals filter on). The session log recorded each session's start
// with its agent and its end with its state, so Verify has what to
// compare them with.
func TestVerifyFindsRowsEditedOutsideTheChain(t *testing.T) {
	base := testkit.Postgres(t)
	cases := []struct {
		name, sql string
		want      wantBreak
	}{
		{"a session given to another agent", `UPDATE sessions SET agent = 'b' WHERE id = 's1'; ` + setBody("sessions", "s1", "agent", "b"),
			wantBreak{"s1", 0, `its record says agent "b", but the system log recorded its start by agent "a"`}},
		{"a killed session revived", `UPDATE sessions SET state = 'active' WHERE id = 's2'; ` + setBody("sessions", "s2", "state", "active"),
			wantBreak{"s2", 0, `its record says it is active, but the system log recorded it killed`}},
		{"a session's agent column edited", `UPDATE sessions SET agent = 'b' WHERE id = 's1'`,
			wantBreak{"s1", 0, `its row's agent column says "b", its record "a"`}},
		{"a session's state column edited", `UPDATE sessions SET state = 'ended' WHERE id = 's1'`,
			wantBreak{"s1", 0, `its row's state column says "ended", its record "active"`}},
		{"a session's start time column edited", `UPDATE sessions SET started_ns = 1 WHERE id = 's1'`,
			wantBreak{"s1", 0, `its row's started_ns column says "1"`}},
		{"an approval's agent column edited", `UPDATE approvals SET agent = 'b' WHERE id = 'ap1'`,
			wantBreak{"s1", 0, `approval ap1: its row's agent column says "b", its record "a"`}},
		{"an approval's state column edited", `UPDATE approvals SET state = 'denied' WHERE id = 'ap1'`,
			wantBreak{"s1", 0, `approval ap1: its row's state column says "denied", its record "pending"`}},
		{"an approval's expiry column moved back", `UPDATE approvals SET expires_ns = 1 WHERE id = 'ap1'`,
			wantBreak{"s1", 0, `approval ap1: its row's expires_ns column says "1"`}},
		{"an approval moved to another session", `UPDATE approvals SET session = 's2' WHERE id = 'ap1'`,
			wantBreak{"s1", 0, `approval ap1: its row's session column says "s2", its record "s1"`}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			verifyTampered(t, base, fmt.Sprintf("rowedit_%d", i), tc.sql, []wantBreak{tc.want})
		})
	}
}
