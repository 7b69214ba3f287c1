// Package sink streams warden's history to a SIEM while warden serves:
// every committed event of every session, mapped to OCSF (package ocsf),
// in batches, to a file or an HTTP endpoint. Delivery is at least once: a
// cursor beside the store moves only after the destination acknowledged a
// batch, so a restart resumes there, losing nothing and sending again at
// most the batch that was in flight.
package sink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/charmbracelet/log"

	"github.com/warden-dev/warden/ocsf"
	"github.com/warden-dev/warden/store"
)

// History is what the sink reads: store.DB has it.
type History interface {
	Sessions(ctx context.Context, f store.Filter) ([]store.Session, error)
	Session(ctx context.Context, id string) (store.Session, error)
	EventsAfter(ctx context.Context, sessionID string, after uint64, limit int) ([]store.Event, error)
}

// Destination takes batches of OCSF lines. Deliver returns nil only once
// the batch is safe at the destination (fsync'd, or answered 2xx).
type Destination interface {
	Deliver(ctx context.Context, batch []byte) error
	Close() error
}

// Options configure a Sink; History, To and Cursor are required.
type Options struct {
	History History
	To      Destination
	// Cursor is the file that records what was delivered.
	Cursor string
	// Batch is the most history events per batch (default 500).
	Batch int
	// Interval is how often the sink looks for new events once it has
	// caught up (default 2s).
	Interval time.Duration
	// RetryMin and RetryMax bound the wait between attempts at a batch:
	// it starts at RetryMin and doubles up to RetryMax (defaults 200ms,
	// 30s). A batch is retried until it is delivered or the sink stops.
	RetryMin, RetryMax time.Duration
	// Grace is how long an attempt in flight when the sink is stopped may
	// still finish (default 5s): a clean stop then sends nothing twice.
	Grace  time.Duration
	Logger *log.Logger
}

// Sink is a running export.
type Sink struct {
	o   Options
	cur *cursor
}

// New reads the cursor and returns a sink ready to Run.
func New(o Options) (*Sink, error) {
	if o.History == nil || o.To == nil || o.Cursor == "" {
		return nil, errors.New("sink: History, To and Cursor are required")
	}
	if o.Batch <= 0 {
		o.Batch = 500
	}
	if o.Interval <= 0 {
		o.Interval = 2 * time.Second
	}
	if o.RetryMin <= 0 {
		o.RetryMin = 200 * time.Millisecond
	}
	if o.RetryMax < o.RetryMin {
		o.RetryMax = max(30*time.Second, o.RetryMin)
	}
	if o.Grace <= 0 {
		o.Grace = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = log.New(io.Discard)
	}
	cur, err := loadCursor(o.Cursor)
	if err != nil {
		return nil, err
	}
	return &Sink{o: o, cur: cur}, nil
}

// Run exports until ctx ends, then closes the destination. A batch in
// flight when ctx ends has Grace to be delivered; if it is not, it is not
// recorded as delivered, and the next run sends it again.
func (s *Sink) Run(ctx context.Context) {
	defer s.o.To.Close()
	for {
		full, err := s.step(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			s.o.Logger.Error("export sink: cannot read the history; trying again", "err", err)
		}
		if full && err == nil {
			continue // more is waiting
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.o.Interval):
		}
	}
}

// step delivers one batch, if there is anything to send, and reports
// whether the batch was full (so more may be waiting).
func (s *Sink) step(ctx context.Context) (full bool, err error) {
	lines, next, n, err := s.collect(ctx)
	if err != nil || len(next) == 0 {
		return false, err
	}
	if len(lines) > 0 {
		if err := s.deliver(ctx, lines); err != nil {
			return false, err
		}
	}
	if err := s.cur.advance(next); err != nil {
		// Delivered but not recorded: the batch goes again next time.
		return false, err
	}
	s.o.Logger.Debug("export sink: batch delivered", "events", n, "bytes", len(lines))
	return n >= s.o.Batch, nil
}

// collect reads up to Batch events past the cursor, the system log first,
// then sessions oldest first, and maps them. next is the cursor after
// them (it moves past pruned events too); n is how many events they are
// (some map to no line).
func (s *Sink) collect(ctx context.Context) (lines []byte, next map[string]uint64, n int, err error) {
	list, err := s.o.History.Sessions(ctx, store.Filter{})
	if err != nil {
		return nil, nil, 0, fmt.Errorf("export sink: %w", err)
	}
	slices.Reverse(list) // oldest first
	if sys, err := s.o.History.Session(ctx, store.SystemLog); err == nil {
		list = append([]store.Session{sys}, list...)
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, nil, 0, fmt.Errorf("export sink: %w", err)
	}
	var buf bytes.Buffer
	next = map[string]uint64{}
	for _, sess := range list {
		at := s.cur.seqs[sess.ID]
		if at > sess.LastSeq {
			// Only an edited cursor, or a history restored from a copy,
			// gets here: events recorded past the history's end would go
			// unsent, so the cursor moves back to it, loudly.
			s.o.Logger.Error("export sink: the cursor is past the end of a session's history (the cursor was edited, or the history restored from a copy); sending what is recorded after that end",
				"session", sess.ID, "cursor", at, "last", sess.LastSeq)
			at = sess.LastSeq
			next[sess.ID] = at
		}
		if sess.LastSeq <= at {
			continue
		}
		evs, err := s.o.History.EventsAfter(ctx, sess.ID, at, s.o.Batch-n)
		if err != nil {
			return nil, nil, 0, fmt.Errorf("export sink: %w", err)
		}
		if len(evs) > 0 && evs[0].Seq > at+1 {
			s.o.Logger.Warn("export sink: events were pruned before they were sent; they are in the retention export files",
				"session", sess.ID, "from", at+1, "to", evs[0].Seq-1)
		}
		if _, err := ocsf.Write(&buf, sess, evs); err != nil {
			return nil, nil, 0, err
		}
		if len(evs) > 0 {
			next[sess.ID] = evs[len(evs)-1].Seq
		} else {
			next[sess.ID] = sess.LastSeq // all of it pruned
		}
		n += len(evs)
		if n >= s.o.Batch {
			break
		}
	}
	return buf.Bytes(), next, n, nil
}

// deliver sends one batch until the destination takes it or ctx ends,
// waiting longer after each failure.
func (s *Sink) deliver(ctx context.Context, batch []byte) error {
	wait := s.o.RetryMin
	for attempt := 1; ; attempt++ {
		err := s.attempt(ctx, batch)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.o.Logger.Warn("export sink: batch not delivered; retrying", "attempt", attempt, "in", wait, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, s.o.RetryMax)
	}
}

// attempt delivers batch once; if ctx ends meanwhile, the attempt has
// Grace more to finish.
func (s *Sink) attempt(ctx context.Context, batch []byte) error {
	actx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-done:
			return
		case <-ctx.Done():
		}
		select {
		case <-done:
		case <-time.After(s.o.Grace):
			cancel()
		}
	}()
	return s.o.To.Deliver(actx, batch)
}
