package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warden-dev/warden/admin"
	"github.com/warden-dev/warden/store"
)

// An admin action outlives its client: an admin client that hangs up in
// the middle of a kill, a suspension or a decision still gets the action
// carried out and recorded, and a restart of warden on the same data
// finds it.

// hangUpAdmin serves l's admin API on a port of its own, behind a gate
// that holds each request until its client has hung up, so that the admin
// API always handles it with its client gone. post sends a request there,
// hangs up once the gate has it, and returns when the admin API is done
// with it.
func hangUpAdmin(t *testing.T, l *ladder) (post func(path string, body any)) {
	t.Helper()
	ah, err := admin.Handler(l.Sup, hashToken(adminToken))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got, done := make(chan struct{}), make(chan struct{})
	gate := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Reading the body to its end lets net/http watch the connection:
		// the request's context ends when the client closes it.
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("gate: read body: %v", err)
		}
		mu.Lock()
		g, d := got, done
		mu.Unlock()
		close(g)
		<-r.Context().Done()
		r.Body = io.NopCloser(bytes.NewReader(body))
		ah.ServeHTTP(w, r)
		close(d)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: gate, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	base := "http://" + ln.Addr().String()

	return func(path string, body any) {
		t.Helper()
		mu.Lock()
		g, d := make(chan struct{}), make(chan struct{})
		got, done = g, d
		mu.Unlock()
		b, _ := json.Marshal(body)
		ctx, cancel := context.WithCancel(t.Context())
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+adminToken)
		answered := make(chan error, 1)
		go func() {
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			answered <- err
		}()
		select {
		case <-g:
		case <-time.After(10 * time.Second):
			t.Fatalf("POST %s never reached the admin API", path)
		}
		cancel()
		if err := <-answered; !errors.Is(err, context.Canceled) {
			t.Fatalf("POST %s: the client got %v, want it to have hung up", path, err)
		}
		select {
		case <-d:
		case <-time.After(30 * time.Second):
			t.Fatalf("the admin API never finished POST %s", path)
		}
	}
}

// restartableLadder is a fresh warden whose restart stops it and starts
// another on the same data, upstream and webhook receiver.
func restartableLadder(t *testing.T) (*ladder, func() *ladder) {
	t.Helper()
	dbPath := filepath.Join(t.TempDir(), "warden.db")
	up, hook := newLadderUpstream(t), newHookReceiver(t)
	l := startLadder(t, dbPath, up, hook)
	return l, func() *ladder {
		l.stop()
		return startLadder(t, dbPath, up, hook)
	}
}

func TestAdminKillOutlivesItsClient(t *testing.T) {
	l, restart := restartableLadder(t)
	c := connect(t, l.URL, opsToken)
	sid := c.GetSessionId()
	callTool(t, c, "echo", map[string]any{"message": "a"})

	hangUpAdmin(t, l)("/v1/sessions/"+sid+"/kill", map[string]string{"reason": "stolen token", "by": "alice"})
	if rec, err := l.Store.Session(t.Context(), sid); err != nil || rec.State != store.StateKilled {
		t.Fatalf("session killed by a client that hung up is %q (%v), want killed on record", rec.State, err)
	}
	l2 := restart()
	rec, err := l2.Store.Session(t.Context(), sid)
	if err != nil || rec.State != store.StateKilled || rec.Reason != "stolen token" {
		t.Fatalf("after restart the session is %q (%q, %v), want killed for the same reason", rec.State, rec.Reason, err)
	}
	if st, body, _, err := ladderPost(nil, l2.URL, opsToken, sid, toolsList, nil); err != nil || st != http.StatusNotFound {
		t.Fatalf("the killed session on the new warden: %d %s %v, want 404", st, body, err)
	}
	_, tl := l2.timeline(t, sid)
	if got := strings.Join(tl, " "); !strings.Contains(got, "kill upstream_session session_end") {
		t.Fatalf("timeline %s, want the kill, its upstream session closed, and the end on record", got)
	}
}

func TestAdminSuspendOutlivesItsClient(t *testing.T) {
	l, restart := restartableLadder(t)
	c := connect(t, l.URL, opsToken)
	sid := c.GetSessionId()

	hangUpAdmin(t, l)("/v1/agents/ops/suspend", map[string]any{"reason": "token leaked", "by": "alice", "kill": true})
	l2 := restart()
	recs, err := l2.Store.AgentRecords(t.Context())
	if err != nil || !recs["ops"].Suspended || recs["ops"].By != "alice" {
		t.Fatalf("after restart ops is %+v (%v), want suspended by alice", recs["ops"], err)
	}
	if st, body, _, err := ladderPost(nil, l2.URL, opsToken, "", initBody, nil); err != nil || st != http.StatusForbidden {
		t.Fatalf("new session of the suspended agent: %d %s %v, want 403", st, body, err)
	}
	if rec, err := l2.Store.Session(t.Context(), sid); err != nil || rec.State != store.StateKilled {
		t.Fatalf("the suspended agent's session is %q (%v), want killed", rec.State, err)
	}
}

func TestAdminDecisionOutlivesItsClient(t *testing.T) {
	l, restart := restartableLadder(t)
	c := connect(t, l.URL, opsToken)
	sid := c.GetSessionId()
	held := callAsync(c, "pay", map[string]any{"amount": 500, "to": "x"}, nil)
	a := l.pending(t, sid, 1)[0]

	hangUpAdmin(t, l)("/v1/approvals/"+a.ID+"/decision", map[string]string{"decision": store.DecisionDeny, "by": "alice"})
	if got, err := l.Store.Approval(t.Context(), a.ID); err != nil || got.State != store.ApprovalDenied {
		t.Fatalf("approval decided by a client that hung up is %q (%v), want denied", got.State, err)
	}
	r := await(t, held, 10*time.Second)
	if r.err != nil || !r.res.IsError || !strings.Contains(resultText(r.res), "an approver denied it") {
		t.Fatalf("held call after the denial: %+v %v", r.res, r.err)
	}
	l2 := restart()
	got, err := l2.Store.Approval(t.Context(), a.ID)
	if err != nil || got.State != store.ApprovalDenied || got.DecidedBy != "alice" {
		t.Fatalf("after restart the approval is %q by %q (%v), want denied by alice", got.State, got.DecidedBy, err)
	}
	_, tl := l2.timeline(t, sid)
	if got := strings.Join(tl, " "); !strings.Contains(got, "call:pay:step_up approval:pay:denied") {
		t.Fatalf("timeline %s, want the held call and its denial", got)
	}
	if l.Up.paid.Load() != 0 {
		t.Fatal("the denied payment reached the upstream")
	}
}
