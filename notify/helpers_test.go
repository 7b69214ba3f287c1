package notify

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/log"
)

var testSecret = []byte("whsec-test-0123456789")

// delivery is one request as the test receiver saw it.
type delivery struct {
	at        time.Time
	header    http.Header
	body      []byte
	verifyErr error // Verify's verdict on it
}

// receiver is a real HTTP webhook receiver on 127.0.0.1. Each request is
// checked with Verify and recorded; answer decides the response to the
// n-th request (0-based); nil answers 204.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []delivery
	answer func(n int, w http.ResponseWriter, r *http.Request)
}

func newReceiver(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	t.Helper()
	rc := &receiver{answer: answer}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("receiver: read body: %v", err)
		}
		rc.mu.Lock()
		n := len(rc.got)
		rc.got = append(rc.got, delivery{at: time.Now(), header: r.Header.Clone(), body: b,
			verifyErr: Verify(testSecret, r.Header.Get(HeaderSignature), b, time.Now(), 5*time.Minute)})
		rc.mu.Unlock()
		if rc.answer == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		rc.answer(n, w, r)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) deliveries() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]delivery(nil), rc.got...)
}

// statuses answers the n-th request with codes[n] (the last one repeats).
func statuses(codes ...int) func(int, http.ResponseWriter, *http.Request) {
	return func(n int, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(codes[min(n, len(codes)-1)])
	}
}

// syncBuffer is a log sink that tests read while senders write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newSender builds a Sender with fast retries for tests; change adjusts
// the options first.
func newSender(t *testing.T, urls []string, change func(*Options)) (*Sender, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	o := Options{URLs: urls, Secret: testSecret, Backoff: 5 * time.Millisecond, Timeout: 2 * time.Second, Logger: log.New(logs)}
	if change != nil {
		change(&o)
	}
	s, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s, logs
}

// waitRequests waits until at least n requests arrived (or a few seconds
// passed), lets any extra ones arrive, and returns how many there are.
func (rc *receiver) waitRequests(t *testing.T, n int) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(rc.deliveries()) < n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // a 17th, if the pool were too wide, would be here by now
	return len(rc.deliveries())
}
