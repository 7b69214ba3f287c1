package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Kinds of change Watch reports, with what their subject is.
const (
	ChangeSession  = "session"  // a session's state changed (killed, ended); subject: its id
	ChangeApproval = "approval" // an approval was decided or expired; subject: its id
	ChangeAgent    = "agent"    // an agent was suspended or restored; subject: its name
)

// changesChannel is what the triggers of migration 0003 NOTIFY.
const changesChannel = "warden_changes"

// changesOverlap is how far back each read of the changes table reaches
// before the previous one: a change whose transaction took its id early
// but committed late is still seen. Changes already delivered are not
// delivered again.
const changesOverlap = 10 * time.Second

// changesKept is how long the changes table keeps a row.
const changesKept = time.Hour

// Watch calls fn(kind, subject) for every change that any replica (this
// one included) commits from now on, until ctx ends, and returns
// ctx's error then. It reads the changes table when LISTEN/NOTIFY on a
// dedicated connection wakes it, and every poll whatever happens, so that
// a missed notification (a dropped connection) only delays a change by
// up to poll. fn runs on Watch's goroutine, one change at a time.
func (d *DB) Watch(ctx context.Context, poll time.Duration, fn func(kind, subject string)) error {
	if poll <= 0 {
		return fmt.Errorf("postgres: watch: poll %v is not positive", poll)
	}
	var since time.Time
	if err := d.pool.QueryRow(ctx, "SELECT now()").Scan(&since); err != nil {
		return fmt.Errorf("postgres: watch: %w", err)
	}
	wake := make(chan struct{}, 1)
	go d.listen(ctx, poll, wake)
	seen := map[int64]time.Time{}
	tick := time.NewTicker(poll)
	defer tick.Stop()
	pruned := since
	for {
		next, err := d.readChanges(ctx, since, seen, fn)
		if err == nil {
			since = next.Add(-changesOverlap)
			for id, at := range seen {
				if at.Before(since) {
					delete(seen, id)
				}
			}
			if next.Sub(pruned) > changesKept/4 {
				_, _ = d.pool.Exec(ctx, "DELETE FROM changes WHERE at < $1", next.Add(-changesKept))
				pruned = next
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		case <-tick.C:
		}
	}
}

// readChanges delivers the changes committed after since that are not in
// seen, and returns the database's time at the read.
func (d *DB) readChanges(ctx context.Context, since time.Time, seen map[int64]time.Time, fn func(kind, subject string)) (time.Time, error) {
	rows, err := d.pool.Query(ctx, "SELECT id, kind, subject, at, now() FROM changes WHERE at > $1 ORDER BY id", since)
	if err != nil {
		return time.Time{}, err
	}
	type change struct {
		id            int64
		kind, subject string
		at, now       time.Time
	}
	var got []change
	for rows.Next() {
		var c change
		if err := rows.Scan(&c.id, &c.kind, &c.subject, &c.at, &c.now); err != nil {
			rows.Close()
			return time.Time{}, err
		}
		got = append(got, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return time.Time{}, err
	}
	var now time.Time
	if err := d.pool.QueryRow(ctx, "SELECT now()").Scan(&now); err != nil {
		return time.Time{}, err
	}
	for _, c := range got {
		if _, dup := seen[c.id]; dup {
			continue
		}
		seen[c.id] = c.at
		fn(c.kind, c.subject)
	}
	return now, nil
}

// listen wakes the watcher on each notification, on a connection of its
// own (a pooled one would carry LISTEN to other users); it reconnects
// after a failure, every poll, until ctx ends.
func (d *DB) listen(ctx context.Context, poll time.Duration, wake chan<- struct{}) {
	for ctx.Err() == nil {
		conn, err := pgx.ConnectConfig(ctx, d.pool.Config().ConnConfig.Copy())
		if err == nil {
			if _, err = conn.Exec(ctx, "LISTEN "+changesChannel); err == nil {
				signal(wake) // changes made while it was not listening
				for err == nil {
					_, err = conn.WaitForNotification(ctx)
					if err == nil {
						signal(wake)
					}
				}
			}
			_ = conn.Close(context.WithoutCancel(ctx))
		}
		select {
		case <-ctx.Done():
		case <-time.After(poll):
		}
	}
}

func signal(c chan<- struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
