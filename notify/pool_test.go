package notify

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestGoWaitsInClose: background deliveries finish before Close returns.
func TestGoWaitsInClose(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		time.Sleep(50 * time.Millisecond)
		w.WriteHeader(http.StatusOK)
	})
	s, _ := newSender(t, []string{rc.URL}, nil)
	for range 5 {
		if !s.Go(context.Background(), testMessage()) {
			t.Fatal("Go refused a message with the pool empty")
		}
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if n := len(rc.deliveries()); n != 5 {
		t.Fatalf("receiver got %d by the time Close returned; want 5", n)
	}
	if s.Go(context.Background(), testMessage()) {
		t.Fatal("Go took a message after Close")
	}
	if err := s.Close(context.Background()); err == nil {
		t.Fatal("second Close: no error")
	}
}

// TestGoBounded: MaxInFlight deliveries run, MaxQueued more wait; beyond
// that Go drops with an error log instead of waiting; Close with an ended
// ctx cancels what is in flight and waiting.
func TestGoBounded(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	s, logs := newSender(t, []string{rc.URL}, func(o *Options) { o.Timeout = time.Minute })
	for i := range MaxInFlight + MaxQueued {
		if !s.Go(context.Background(), testMessage()) {
			t.Fatalf("Go refused message %d of %d", i+1, MaxInFlight+MaxQueued)
		}
	}
	if got := rc.waitRequests(t, MaxInFlight); got != MaxInFlight {
		t.Fatalf("%d deliveries ran at once; the pool runs %d", got, MaxInFlight)
	}
	if s.Go(context.Background(), testMessage()) {
		t.Fatalf("Go took message %d; the pool holds %d", MaxInFlight+MaxQueued+1, MaxInFlight+MaxQueued)
	}
	if !strings.Contains(logs.String(), "webhook dropped: too many deliveries waiting") {
		t.Fatalf("drop not logged:\n%s", logs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.Close(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close: %v; want the deadline", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("Close took %s; its ctx allowed 100ms", took)
	}
	close(release)
	if !strings.Contains(logs.String(), "webhook message not delivered") {
		t.Fatalf("cancelled deliveries not logged:\n%s", logs)
	}
}
