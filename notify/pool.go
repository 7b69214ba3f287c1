package notify

import (
	"context"
	"errors"
	"fmt"
)

// Go delivers m in the background, as Send would, and reports whether it
// was taken. At most MaxInFlight deliveries run at once; the rest wait in
// a queue of at most MaxQueued. Beyond that, and after Close, m is dropped
// with an error log and Go returns false, because a caller on the call
// path must never wait for a slow receiver. ctx bounds the delivery, so
// pass one that outlives the request that caused it
// (context.WithoutCancel), with a deadline.
func (s *Sender) Go(ctx context.Context, m Message) bool {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.log.Error("webhook dropped: sender closed", "event", m.Type, "session", m.Session)
		return false
	}
	if len(s.queue) >= MaxQueued {
		s.mu.Unlock()
		s.log.Error("webhook dropped: too many deliveries waiting", "event", m.Type, "session", m.Session, "max", MaxQueued)
		return false
	}
	s.queue = append(s.queue, job{ctx: ctx, m: m})
	s.wg.Add(1)
	start := s.running < MaxInFlight
	if start {
		s.running++
	}
	s.mu.Unlock()
	if start {
		go s.work()
	}
	return true
}

// job is one queued delivery.
type job struct {
	ctx context.Context
	m   Message
}

// work delivers queued messages until the queue is empty.
func (s *Sender) work() {
	for {
		s.mu.Lock()
		if len(s.queue) == 0 {
			s.running--
			s.mu.Unlock()
			return
		}
		j := s.queue[0]
		s.queue = s.queue[1:]
		s.mu.Unlock()
		s.deliverJob(j)
		s.wg.Done()
	}
}

func (s *Sender) deliverJob(j job) {
	ctx, cancel := context.WithCancel(j.ctx)
	defer cancel()
	stop := context.AfterFunc(s.stop, cancel)
	defer stop()
	if err := s.Send(ctx, j.m); err != nil {
		// deliver has logged each URL's failure; this ties them to the message.
		s.log.Error("webhook message not delivered", "event", j.m.Type, "session", j.m.Session, "err", err)
	}
}

// Close refuses further Go calls and waits for the deliveries in flight.
// If ctx ends first, it cancels them, waits for them to return, and
// returns ctx's error. A second Close returns an error.
func (s *Sender) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errors.New("notify: sender already closed")
	}
	s.closed = true
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.cancel()
		<-done
		return fmt.Errorf("notify: close: deliveries cancelled: %w", ctx.Err())
	}
}
