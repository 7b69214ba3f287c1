package notify

import (
	"context"
	"errors"
	"fmt"
)

// Go delivers m in the background, as Send would, and reports whether it
// was taken. At most MaxInFlight deliveries run at once: beyond that, and
// after Close, m is dropped with an error log and Go returns false, because
// a caller on the call path must never wait for a slow receiver. ctx bounds
// the delivery, so pass one that outlives the request that caused it
// (context.WithoutCancel), with a deadline.
func (s *Sender) Go(ctx context.Context, m Message) bool {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.log.Error("webhook dropped: sender closed", "event", m.Type, "session", m.Session)
		return false
	}
	select {
	case s.slots <- struct{}{}:
	default:
		s.mu.Unlock()
		s.log.Error("webhook dropped: too many deliveries in flight", "event", m.Type, "session", m.Session, "max", MaxInFlight)
		return false
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer func() { <-s.slots; s.wg.Done() }()
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		stop := context.AfterFunc(s.stop, cancel)
		defer stop()
		if err := s.Send(ctx, m); err != nil {
			// deliver has logged each URL's failure; this ties them to the message.
			s.log.Error("webhook message not delivered", "event", m.Type, "session", m.Session, "err", err)
		}
	}()
	return true
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
