package notify

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/log"

	"github.com/warden-dev/warden/internal/testkit"
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
	busy   int // requests inside answer now
	most   int // the highest busy has been
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
		rc.busy++
		rc.most = max(rc.most, rc.busy)
		rc.mu.Unlock()
		defer func() {
			rc.mu.Lock()
			rc.busy--
			rc.mu.Unlock()
		}()
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

// newSender builds a Sender with fast retries for tests; change adjusts
// the options first.
func newSender(t *testing.T, urls []string, change func(*Options)) (*Sender, *testkit.SyncBuffer) {
	t.Helper()
	logs := &testkit.SyncBuffer{}
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

// waitRequests waits until at least n requests have arrived.
func (rc *receiver) waitRequests(t *testing.T, n int) {
	t.Helper()
	testkit.WaitFor(t, 10*time.Second, fmt.Sprintf("%d webhook requests", n), func() bool { return len(rc.deliveries()) >= n })
}

// maxConcurrent is the most requests the receiver has had in its answer
// function at once.
func (rc *receiver) maxConcurrent() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.most
}
