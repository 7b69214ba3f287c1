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
// holding only the sessions in flight, a few per worker. An error from next
// or emit stops the replay and is returned.
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
	opts.parses = newParseShare()
	sum := Summary{ByCall: map[warden.Verdict]int{}, BySess: map[warden.Verdict]int{}}
	sum.TimeDependent = policy.timeDependent()
	// The input's side of the summary is counted by the reader, the
	// verdicts' side by the emitter: each on its own goroutine.
	signals, atRecorded := false, 0
	pick := func() (Trace, error) {
		for {
			tr, err := next()
			if err != nil {
				return Trace{}, err
			}
			if opts.Agent != "" && tr.Agent != "" && tr.Agent != opts.Agent {
				sum.Skipped++
				continue
			}
			signals = signals || len(tr.Signals) > 0
			for _, c := range tr.Calls {
				if c.At != nil {
					atRecorded++
				}
			}
			return tr, nil
		}
	}
	var counts Summary
	counts.ByCall, counts.BySess = sum.ByCall, sum.BySess
	count := func(rs ReplayedSession) error {
		worst := warden.Allow
		for _, c := range rs.Calls {
			counts.ByCall[c.Verdict]++
			worst = warden.Max(worst, c.Verdict)
		}
		counts.Calls += len(rs.Calls)
		counts.Sessions++
		counts.BySess[worst]++
		return emit(rs)
	}
	workers := opts.Workers
	if opts.Judge != nil {
		workers = 1 // the judge's budget is spent in the record's order
	}
	err := replayOrdered(policy, pick, opts, workers, count)
	if err != nil && !errors.Is(err, io.EOF) {
		return Summary{}, fmt.Errorf("replay: %w", err)
	}
	sum.Calls, sum.Sessions, sum.AtRecordedTimes = counts.Calls, counts.Sessions, atRecorded
	if signals {
		sum.TimeDependent = append(sum.TimeDependent, "risk of the sessions' recorded signals, which decays")
	}
	return sum, nil
}

// replayOrdered replays the traces next hands out, workers at a time,
// and hands each replayed session to emit in next's order. It returns
// next's error (io.EOF at the end) or emit's.
func replayOrdered(policy *Policy, next func() (Trace, error), opts ReplayOptions, workers int, emit func(ReplayedSession) error) error {
	if workers <= 1 {
		for {
			tr, err := next()
			if err != nil {
				return err
			}
			if err := emit(ReplaySession(policy, tr, opts)); err != nil {
				return err
			}
		}
	}
	type job struct {
		tr  Trace
		out chan<- ReplayedSession
	}
	jobs := make(chan job)
	// pending holds each session's slot in input order; its capacity bounds
	// the sessions read ahead of the one emit waits for.
	pending := make(chan chan ReplayedSession, 4*workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for j := range jobs {
				j.out <- ReplaySession(policy, j.tr, opts)
			}
		})
	}
	stop := make(chan struct{})
	emitted := make(chan error, 1)
	go func() {
		var err error
		for slot := range pending {
			rs := <-slot
			if err == nil {
				if err = emit(rs); err != nil {
					close(stop)
				}
			}
		}
		emitted <- err
	}()
	var err error
read:
	for {
		var tr Trace
		if tr, err = next(); err != nil {
			break
		}
		slot := make(chan ReplayedSession, 1)
		select {
		case pending <- slot:
		case <-stop:
			break read
		}
		jobs <- job{tr: tr, out: slot}
	}
	close(jobs)
	close(pending)
	wg.Wait()
	if eerr := <-emitted; eerr != nil {
		return eerr
	}
	return err
}
