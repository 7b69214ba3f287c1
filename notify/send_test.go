package notify

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/store"
)

func testMessage() Message {
	created := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	return Message{
		Type: TypeApprovalRequested,
		Time: created,
		Approval: &store.Approval{ID: "ap-1", Session: "s-1", Agent: "billing", Tool: "refund",
			Args: json.RawMessage(`{"amount":120}`), Reasons: []string{"refund is not a next step"},
			Created: created, Expires: created.Add(2 * time.Minute), State: store.ApprovalPending},
		Session: "s-1", Agent: "billing", RemoteAddr: "10.0.0.7:5123", Client: "claude-code 2.1",
		Reasons: []string{"refund is not a next step"},
		Recent:  []RecentCall{{Tool: "lookup_customer", Verdict: "allow", Time: created.Add(-time.Minute)}},
		Links:   map[string]string{store.DecisionOnce: "https://warden.example/d?token=a", store.DecisionDeny: "https://warden.example/d?token=b"},
		Text:    "billing wants refund in session s-1: refund is not a next step",
	}
}

// TestSendSignedDelivery: a real receiver gets warden's JSON, signed so
// that Verify accepts it, with the event and a delivery id.
func TestSendSignedDelivery(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	s, _ := newSender(t, []string{rc.URL + "/hook"}, nil)
	want := testMessage()
	if err := s.Send(context.Background(), want); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := rc.deliveries()
	if len(got) != 1 {
		t.Fatalf("receiver got %d requests; want 1", len(got))
	}
	d := got[0]
	if d.verifyErr != nil {
		t.Fatalf("receiver's Verify: %v", d.verifyErr)
	}
	if e := d.header.Get(HeaderEvent); e != TypeApprovalRequested {
		t.Errorf("%s = %q", HeaderEvent, e)
	}
	if id := d.header.Get(HeaderDelivery); len(id) != 32 {
		t.Errorf("%s = %q; want 32 hex digits", HeaderDelivery, id)
	}
	if ct := d.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var m Message
	if err := json.Unmarshal(d.body, &m); err != nil {
		t.Fatalf("body is not a Message: %v\n%s", err, d.body)
	}
	if m.Approval == nil || m.Approval.ID != "ap-1" || string(m.Approval.Args) != `{"amount":120}` ||
		m.Links[store.DecisionOnce] != want.Links[store.DecisionOnce] || len(m.Recent) != 1 || m.RemoteAddr != want.RemoteAddr || m.Text != want.Text {
		t.Fatalf("body lost fields:\n%s", d.body)
	}
	// The signature covers the body: one changed byte and Verify refuses.
	tampered := append([]byte(nil), d.body...)
	tampered[len(tampered)-2] ^= 1
	if err := Verify(testSecret, d.header.Get(HeaderSignature), tampered, time.Now(), time.Minute); !errors.Is(err, errMismatch) {
		t.Fatalf("Verify of a tampered body: %v; want a mismatch", err)
	}
}

func TestSendRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		answer   func(int, http.ResponseWriter, *http.Request)
		retries  int
		wantReqs int
		wantErr  string // "" for success
	}{
		{"500 then success", statuses(500, 200), 0, 2, ""},
		{"502, 503, then 201", statuses(502, 503, 201), 0, 3, ""},
		{"400 is not retried", statuses(400, 200), 0, 1, "400 Bad Request"},
		{"404 is not retried", statuses(404), 0, 1, "refused"},
		{"redirect is not followed", func(_ int, w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		}, 0, 1, "302"},
		{"retries run out", statuses(500), 2, 3, "500 Internal Server Error"},
		{"no retries", statuses(503, 200), -1, 1, "503"},
		{"default retries", statuses(500), 0, 1 + DefaultRetries, "500"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rc := newReceiver(t, tt.answer)
			s, _ := newSender(t, []string{rc.URL}, func(o *Options) { o.Retries = tt.retries })
			err := s.Send(context.Background(), testMessage())
			if tt.wantErr == "" && err != nil {
				t.Fatalf("Send: %v; want success", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Send: %v; want an error containing %q", err, tt.wantErr)
			}
			got := rc.deliveries()
			if len(got) != tt.wantReqs {
				t.Fatalf("receiver got %d requests; want %d", len(got), tt.wantReqs)
			}
			for i, d := range got {
				if d.verifyErr != nil {
					t.Errorf("request %d: Verify: %v", i, d.verifyErr)
				}
				if d.header.Get(HeaderDelivery) != got[0].header.Get(HeaderDelivery) {
					t.Errorf("request %d has delivery id %q; a retry keeps %q", i, d.header.Get(HeaderDelivery), got[0].header.Get(HeaderDelivery))
				}
			}
		})
	}
}

// TestSendHonoursRetryAfter: a 429 or 503 with Retry-After is retried no
// sooner than asked, although Backoff is far shorter.
func TestSendHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	for _, code := range []int{http.StatusTooManyRequests, http.StatusServiceUnavailable} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			t.Parallel()
			rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
				if n == 0 {
					w.Header().Set("Retry-After", "1")
					w.WriteHeader(code)
				}
			})
			s, _ := newSender(t, []string{rc.URL}, func(o *Options) { o.Backoff = time.Millisecond })
			if err := s.Send(context.Background(), testMessage()); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := rc.deliveries()
			if len(got) != 2 {
				t.Fatalf("receiver got %d requests; want 2", len(got))
			}
			if gap := got[1].at.Sub(got[0].at); gap < 900*time.Millisecond {
				t.Fatalf("retried after %s; Retry-After asked for 1s", gap)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"3", 3 * time.Second},
		{"0", 0},
		{"-4", 0},
		{"soon", 0},
		{"86400", maxRetryAfter},
		{now.Add(10 * time.Second).Format(http.TimeFormat), 10 * time.Second},
		{now.Add(-10 * time.Second).Format(http.TimeFormat), 0},
		{now.Add(24 * time.Hour).Format(http.TimeFormat), maxRetryAfter},
	}
	for _, tt := range tests {
		if got := retryAfter(tt.in, now); got != tt.want {
			t.Errorf("retryAfter(%q) = %s; want %s", tt.in, got, tt.want)
		}
	}
}

// TestSendBoundedByTimeout: a receiver that never answers costs one
// Timeout per attempt: each attempt is abandoned by the sender (the
// receiver sees its request end) and retried; and ctx ends the whole
// delivery, with no further attempt. Both are counted, not timed: a sender
// that ignored them would hang the test.
func TestSendBoundedByTimeout(t *testing.T) {
	t.Parallel()
	t.Run("timeout per attempt", func(t *testing.T) {
		t.Parallel()
		var abandoned atomic.Int32
		rc := newReceiver(t, func(_ int, _ http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
			abandoned.Add(1)
		})
		s, _ := newSender(t, []string{rc.URL}, func(o *Options) { o.Timeout = 150 * time.Millisecond; o.Retries = 1 })
		err := s.Send(context.Background(), testMessage())
		if err == nil || !strings.Contains(err.Error(), "no answer within 150ms") {
			t.Fatalf("Send: %v; want a timeout", err)
		}
		if n := len(rc.deliveries()); n != 2 {
			t.Fatalf("receiver got %d requests; want 2 (timeouts are retried)", n)
		}
		testkit.WaitFor(t, 10*time.Second, "the receiver to see both requests abandoned", func() bool { return abandoned.Load() == 2 })
	})
	t.Run("ctx bounds retries", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		// The first request's arrival ends ctx.
		rc := newReceiver(t, func(_ int, _ http.ResponseWriter, r *http.Request) {
			cancel()
			<-r.Context().Done()
		})
		s, _ := newSender(t, []string{rc.URL}, func(o *Options) { o.Timeout = time.Minute; o.Retries = 10 })
		err := s.Send(ctx, testMessage())
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Send: %v; want ctx's error", err)
		}
		if n := len(rc.deliveries()); n != 1 {
			t.Fatalf("receiver got %d requests; want 1 (no retry once ctx ended)", n)
		}
	})
}

// TestSendSeveralURLs: every URL gets the message; the error names only
// the one that refused, by host, never with its path (it may be a secret).
func TestSendSeveralURLs(t *testing.T) {
	t.Parallel()
	ok := newReceiver(t, nil)
	bad := newReceiver(t, statuses(403))
	s, logs := newSender(t, []string{ok.URL + "/a", bad.URL + "/services/SECRET-PATH"}, nil)
	err := s.Send(context.Background(), testMessage())
	if err == nil || !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), strings.TrimPrefix(bad.URL, "http://")) {
		t.Fatalf("Send: %v; want the 403 of %s", err, bad.URL)
	}
	if strings.Contains(err.Error(), ok.URL) || strings.Contains(err.Error()+logs.String(), "SECRET-PATH") {
		t.Fatalf("error or log names too much: %v\n%s", err, logs)
	}
	if len(ok.deliveries()) != 1 || len(bad.deliveries()) != 1 {
		t.Fatalf("deliveries: %d and %d; want 1 each", len(ok.deliveries()), len(bad.deliveries()))
	}
	if a, b := ok.deliveries()[0], bad.deliveries()[0]; string(a.body) != string(b.body) {
		t.Fatal("the URLs got different bodies")
	}
}

func TestSendRefusesUnknownType(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	s, _ := newSender(t, []string{rc.URL}, nil)
	m := testMessage()
	m.Type = "approval.maybe"
	if err := s.Send(context.Background(), m); err == nil || !strings.Contains(err.Error(), "unknown message type") {
		t.Fatalf("Send: %v", err)
	}
	if n := len(rc.deliveries()); n != 0 {
		t.Fatalf("receiver got %d requests", n)
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"no URLs", Options{Secret: testSecret}, "no webhook URLs"},
		{"bad scheme", Options{URLs: []string{"ftp://x/y"}, Secret: testSecret}, "http:// or https://"},
		{"no host", Options{URLs: []string{"http:///x"}, Secret: testSecret}, "with a host"},
		{"unparsable", Options{URLs: []string{"http://a b/%zz"}, Secret: testSecret}, "webhook URL"},
		{"no secret", Options{URLs: []string{"http://x"}}, "empty secret"},
		{"negative timeout", Options{URLs: []string{"http://x"}, Secret: testSecret, Timeout: -1}, "negative timeout"},
		{"negative backoff", Options{URLs: []string{"http://x"}, Secret: testSecret, Backoff: -1}, "negative backoff"},
	}
	for _, tt := range tests {
		if _, err := New(tt.o); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: New: %v; want an error containing %q", tt.name, err, tt.want)
		}
	}
	if _, err := New(Options{URLs: []string{"https://hooks.slack.example/x"}, Slack: true}); err != nil {
		t.Errorf("Slack without a secret: %v", err)
	}
}
