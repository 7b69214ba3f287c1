package supervisor

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/warden-dev/warden"
)

// ReplayStream is Replay of the sessions next hands out (io.EOF after the
// last), each replayed session handed to emit in the input's order as soon
// as it and those before it are done: a history of any length is replayed
// holding only the sessions in flight, a few per worker. next may hand
// out traces still to be decoded (TraceReader.Deferred): each is decoded
// on the worker that replays it. An error from next or emit, or a trace's
// that does not decode, stops the replay (after the sessions before it
// are handed out) and is returned.
func ReplayStream(policy *Policy, next func() (Trace, error), opts ReplayOptions, emit func(ReplayedSession) error) (Summary, error) {
	if policy == nil {
		return Summary{}, errors.New("replay: no policy")
	}
	if opts.Start.IsZero() {
		opts.Start = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	opts.parses, opts.pins = newParseShare(), newPinShare(policy)
	sum := Summary{ByCall: map[warden.Verdict]int{}, BySess: map[warden.Verdict]int{}}
	sum.TimeDependent = policy.timeDependent()
	// Sessions are decoded, filtered and replayed on the workers, and
	// counted, in the input's order, by the one emitter.
	signals := false
	count := func(r replayed) error {
		if r.skipped {
			sum.Skipped++
			return nil
		}
		signals = signals || r.signals
		sum.AtRecordedTimes += r.atRecorded
		worst := warden.Allow
		for _, c := range r.rs.Calls {
			sum.ByCall[c.Verdict]++
			worst = warden.Max(worst, c.Verdict)
		}
		sum.Calls += len(r.rs.Calls)
		sum.Sessions++
		sum.BySess[worst]++
		return emit(r.rs)
	}
	workers := opts.Workers
	if opts.Judge != nil {
		workers = 1 // the judge's budget is spent in the record's order
	}
	err := replayOrdered(policy, next, opts, workers, count)
	if err != nil && !errors.Is(err, io.EOF) {
		return Summary{}, fmt.Errorf("replay: %w", err)
	}
	if signals {
		sum.TimeDependent = append(sum.TimeDependent, "risk of the sessions' recorded signals, which decays")
	}
	return sum, nil
}

// replayed is one session of the input as a worker leaves it: replayed,
// skipped (another agent's), or not decoded (err).
type replayed struct {
	rs         ReplayedSession
	err        error
	skipped    bool
	signals    bool // it carries recorded signals
	atRecorded int  // its calls with a recorded time
}

// replayOne decodes tr if it is deferred and replays it, unless it is
// another agent's.
func replayOne(policy *Policy, tr Trace, opts ReplayOptions) replayed {
	tr, err := tr.decoded(true, opts.parses.checked)
	if err != nil {
		return replayed{err: err}
	}
	if opts.Agent != "" && tr.Agent != "" && tr.Agent != opts.Agent {
		return replayed{skipped: true}
	}
	r := replayed{signals: len(tr.Signals) > 0}
	for _, c := range tr.Calls {
		if c.At != nil {
			r.atRecorded++
		}
	}
	r.rs = ReplaySession(policy, tr, opts)
	if opts.Encode != nil {
		if r.rs.Encoded, err = opts.Encode(r.rs); err != nil {
			return replayed{err: fmt.Errorf("session %s: %w", tr.ID, err)}
		}
	}
	return r
}

// Sessions go to the workers in batches, so that a hand-off (a channel
// send, often a goroutine's wake-up) is paid per batch and not per session
// of a few calls: handed out one at a time, two workers gave about 1.2
// times one's calls per second, the rest spent waking goroutines. A batch
// starts at one session and doubles up to batchSessions, so that a short
// input still spreads over the workers; it also ends at batchBytes of
// undecoded lines, which bounds what is held in flight.
const (
	batchSessions = 64
	batchBytes    = 1 << 20
)

// readBatch is up to most sessions from next, ended early once they hold
// batchBytes of undecoded lines, and the error next returned (io.EOF at
// the end) if it stopped the batch: the sessions before the error are
// still replayed.
func readBatch(next func() (Trace, error), most int) ([]Trace, error) {
	b := make([]Trace, 0, most)
	size := 0
	for len(b) < most && size < batchBytes {
		tr, err := next()
		if err != nil {
			return b, err
		}
		b = append(b, tr)
		size += len(tr.raw)
	}
	return b, nil
}

// replayOrdered replays the traces next hands out, workers at a time,
// and hands each to emit in next's order. It returns next's error (io.EOF
// at the end), a trace's that did not decode, or emit's.
func replayOrdered(policy *Policy, next func() (Trace, error), opts ReplayOptions, workers int, emit func(replayed) error) error {
	emitOK := func(r replayed) error {
		if r.err != nil {
			return r.err
		}
		return emit(r)
	}
	if workers <= 1 {
		for {
			tr, err := next()
			if err != nil {
				return err
			}
			if err := emitOK(replayOne(policy, tr, opts)); err != nil {
				return err
			}
		}
	}
	type job struct {
		trs []Trace
		out chan<- []replayed
	}
	jobs := make(chan job, workers)
	// pending holds each batch's slot in input order; its capacity bounds
	// the batches read ahead of the one emit waits for.
	pending := make(chan chan []replayed, 2*workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for j := range jobs {
				rs := make([]replayed, 0, len(j.trs))
				for _, tr := range j.trs {
					r := replayOne(policy, tr, opts)
					rs = append(rs, r)
					if r.err != nil {
						break // the replay stops at this one
					}
				}
				j.out <- rs
			}
		})
	}
	stop := make(chan struct{})
	emitted := make(chan error, 1)
	go func() {
		var err error
		for slot := range pending {
			for _, r := range <-slot {
				if err == nil {
					if err = emitOK(r); err != nil {
						close(stop)
					}
				}
			}
		}
		emitted <- err
	}()
	var err error
read:
	for size := 1; ; size = min(2*size, batchSessions) {
		var trs []Trace
		trs, err = readBatch(next, size)
		if len(trs) > 0 {
			slot := make(chan []replayed, 1)
			select {
			case pending <- slot:
				jobs <- job{trs: trs, out: slot}
			case <-stop: // emit failed: its error is the replay's
				break read
			}
		}
		if err != nil {
			break
		}
	}
	close(jobs)
	close(pending)
	wg.Wait()
	if eerr := <-emitted; eerr != nil {
		return eerr
	}
	return err
}
