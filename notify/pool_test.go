package notify

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestGoWaitsInClose: background deliveries finish before Close returns.
// The five are all held in the receiver when Close is called, and are let
// go only then; each counts itself answered on its way out, so a Close
// that did not wait finds fewer than five.
func TestGoWaitsInClose(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var answered atomic.Int32
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		<-release
		answered.Add(1)
		w.WriteHeader(http.StatusOK)
	})
	s, _ := newSender(t, []string{rc.URL}, nil)
	for range 5 {
		if !s.Go(context.Background(), testMessage()) {
			t.Fatal("Go refused a message with the pool empty")
		}
	}
	rc.waitRequests(t, 5)
	go close(release)
	if err := s.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if n := answered.Load(); n != 5 {
		t.Fatalf("%d deliveries answered by the time Close returned; want 5", n)
	}
	if s.Go(context.Background(), testMessage()) {
		t.Fatal("Go took a message after Close")
	}
	if err := s.Close(context.Background()); err == nil {
		t.Fatal("second Close: no error")
	}
}

// TestGoRunsAtMostMaxInFlight: with every delivery held, MaxInFlight
// reach the receiver and the rest wait; the receiver counts how many it
// ever had at once, over the whole run until Close has drained the queue.
func TestGoRunsAtMostMaxInFlight(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		<-release
		w.WriteHeader(http.StatusOK)
	})
	s, _ := newSender(t, []string{rc.URL}, nil)
	const total = MaxInFlight + 8
	for i := range total {
		if !s.Go(context.Background(), testMessage()) {
			t.Fatalf("Go refused message %d of %d", i+1, total)
		}
	}
	rc.waitRequests(t, MaxInFlight)
	close(release)
	if err := s.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if n := len(rc.deliveries()); n != total {
		t.Fatalf("receiver got %d deliveries; want all %d", n, total)
	}
	if most := rc.maxConcurrent(); most != MaxInFlight {
		t.Fatalf("%d deliveries ran at once; the pool runs %d", most, MaxInFlight)
	}
}

// TestGoBounded: beyond MaxInFlight running and MaxQueued waiting, Go
// drops with an error log instead of waiting; Close with an ended ctx
// cancels what is in flight and waiting, and each of those is logged as
// not delivered.
func TestGoBounded(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(_ int, _ http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	s, logs := newSender(t, []string{rc.URL}, func(o *Options) { o.Timeout = time.Minute })
	for i := range MaxInFlight + MaxQueued {
		if !s.Go(context.Background(), testMessage()) {
			t.Fatalf("Go refused message %d of %d", i+1, MaxInFlight+MaxQueued)
		}
	}
	rc.waitRequests(t, MaxInFlight)
	if s.Go(context.Background(), testMessage()) {
		t.Fatalf("Go took message %d; the pool holds %d", MaxInFlight+MaxQueued+1, MaxInFlight+MaxQueued)
	}
	if !strings.Contains(logs.String(), "webhook dropped: too many deliveries waiting") {
		t.Fatalf("drop not logged:\n%s", logs)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close: %v; want its ctx's error", err)
	}
	if n := strings.Count(logs.String(), "webhook message not delivered"); n != MaxInFlight+MaxQueued {
		t.Fatalf("%d deliveries logged as not delivered; want all %d that were taken", n, MaxInFlight+MaxQueued)
	}
}
