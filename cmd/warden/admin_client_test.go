package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alecthomas/kong"
	"go.uber.org/goleak"

	"github.com/warden-dev/warden/config"
	"github.com/warden-dev/warden/store"
)

// TestMain lets a test run this binary as the warden command itself
// (WARDEN_TEST_MAIN=1), to check real exit codes and stderr.
func TestMain(m *testing.M) {
	if os.Getenv("WARDEN_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// adminToken is the stand-in API's bearer token.
const adminToken = "admin-token-for-tests"

// request is one request the stand-in API received.
type request struct {
	Method, Path string
	Query        url.Values
	Auth         string
	Body         map[string]any
}

// standIn is a small stand-in for warden's admin API (approvals, kill,
// agents), faithful to the contract the CLI is written against: bearer
// auth, {"error": ...} refusals, store.Approval as the wire format, and
// 404 / 409 / 410 for unknown, decided and expired approvals.
type standIn struct {
	mu        sync.Mutex
	approvals []*store.Approval
	sessions  map[string]string // live session -> agent
	agents    []*agentStatus
	reqs      []request
}

func newStandIn(t *testing.T) (*standIn, *httptest.Server) {
	t.Helper()
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	s := &standIn{
		approvals: []*store.Approval{
			{ID: "ap-1", Session: "s-1", Agent: "support-bot", CallID: "7", Tool: "payments_refund", Upstream: "pay",
				Args: json.RawMessage(`{"amount":500,"iban":"XX00"}`), ArgsDigest: "d1", Reasons: []string{"step \"refund\": guard is false", "refund over 50"},
				Created: now, Expires: now.Add(2 * time.Minute), State: store.ApprovalPending},
			{ID: "ap-2", Session: "s-2", Agent: "reporter", Tool: "fs_read_file", ArgsDigest: "d2", Reasons: []string{"out of order"},
				Created: now.Add(-time.Hour), Expires: now.Add(-58 * time.Minute), State: store.ApprovalApproved,
				Decision: store.DecisionOnce, DecidedBy: "alice@desk", DecidedAt: now.Add(-59 * time.Minute)},
			{ID: "ap-3", Session: "s-1", Agent: "support-bot", Tool: "payments_refund", ArgsDigest: "d3",
				Created: now.Add(-2 * time.Hour), Expires: now.Add(-118 * time.Minute), State: store.ApprovalExpired, Note: "warden restarted"},
		},
		sessions: map[string]string{"s-1": "support-bot", "s-2": "reporter", "s-3": "support-bot"},
		agents: []*agentStatus{
			{Name: "support-bot", LiveSessions: 2},
			{Name: "reporter", Suspended: true, Reason: "leaked a key", LiveSessions: 0},
		},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/approvals", s.list)
	mux.HandleFunc("GET /v1/approvals/{id}", s.show)
	mux.HandleFunc("POST /v1/approvals/{id}/decision", s.decide)
	mux.HandleFunc("POST /v1/sessions/{id}/kill", s.killSession)
	mux.HandleFunc("POST /v1/agents/{name}/kill", s.killAgent)
	mux.HandleFunc("GET /v1/agents", func(w http.ResponseWriter, r *http.Request) { answer(w, http.StatusOK, s.agents) })
	mux.HandleFunc("POST /v1/agents/{name}/suspend", s.suspend)
	mux.HandleFunc("POST /v1/agents/{name}/restore", s.restore)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req := request{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Auth: r.Header.Get("Authorization")}
		if len(body) > 0 {
			if err := json.Unmarshal(body, &req.Body); err != nil {
				answer(w, http.StatusBadRequest, map[string]string{"error": "body is not a JSON object"})
				return
			}
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		s.mu.Lock()
		s.reqs = append(s.reqs, req)
		s.mu.Unlock()
		if req.Auth != "Bearer "+adminToken {
			answer(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized: admin bearer token required"})
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return s, srv
}

// last is the last request the stand-in received.
func (s *standIn) last(t *testing.T) request {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.reqs) == 0 {
		t.Fatal("the API received no request")
	}
	return s.reqs[len(s.reqs)-1]
}

// lastLookup is the last request other than a listing of every session
// or approval, which a command sends to resolve an id it did not find as
// a prefix of one.
func (s *standIn) lastLookup(t *testing.T) request {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.reqs) - 1; i >= 0; i-- {
		if r := s.reqs[i]; r.Method != http.MethodGet || (r.Path != "/v1/sessions" && r.Path != "/v1/approvals") {
			return r
		}
	}
	t.Fatal("the API received no request but listings")
	return request{}
}

func answer(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *standIn) find(id string) *store.Approval {
	for _, a := range s.approvals {
		if a.ID == id {
			return a
		}
	}
	return nil
}

func (s *standIn) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	out := []*store.Approval{}
	for _, a := range s.approvals {
		if (q.Get("state") == "" || a.State == q.Get("state")) && (q.Get("agent") == "" || a.Agent == q.Get("agent")) &&
			(q.Get("session") == "" || a.Session == q.Get("session")) {
			out = append(out, a)
		}
	}
	answer(w, http.StatusOK, out)
}

func (s *standIn) show(w http.ResponseWriter, r *http.Request) {
	a := s.find(r.PathValue("id"))
	if a == nil {
		answer(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("no approval %q", r.PathValue("id"))})
		return
	}
	answer(w, http.StatusOK, a)
}

func (s *standIn) decide(w http.ResponseWriter, r *http.Request) {
	var req struct{ Decision, By, Note string }
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		answer(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	a := s.find(r.PathValue("id"))
	switch {
	case a == nil:
		answer(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("no approval %q", r.PathValue("id"))})
		return
	case a.State == store.ApprovalExpired:
		answer(w, http.StatusGone, map[string]string{"error": "approval expired: " + a.Note})
		return
	case a.State != store.ApprovalPending:
		answer(w, http.StatusConflict, map[string]string{"error": fmt.Sprintf("already decided (%s by %s)", a.Decision, a.DecidedBy)})
		return
	}
	switch req.Decision {
	case store.DecisionOnce, store.DecisionSession:
		a.State = store.ApprovalApproved
	case store.DecisionDeny, store.DecisionDenyKill:
		a.State = store.ApprovalDenied
	default:
		answer(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("unknown decision %q", req.Decision)})
		return
	}
	a.Decision, a.DecidedBy, a.DecidedAt, a.Note = req.Decision, req.By, time.Now().UTC(), req.Note
	answer(w, http.StatusOK, a)
}

func (s *standIn) killSession(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, ok := s.sessions[id]; !ok {
		answer(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("no live session %q", id)})
		return
	}
	delete(s.sessions, id)
	answer(w, http.StatusOK, map[string]string{"session": id, "state": "killed"})
}

// agent finds an agent, answering 404 when there is none.
func (s *standIn) agent(w http.ResponseWriter, name string) *agentStatus {
	for _, a := range s.agents {
		if a.Name == name {
			return a
		}
	}
	answer(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("no agent %q", name)})
	return nil
}

// killAll kills an agent's live sessions, returning how many.
func (s *standIn) killAll(a *agentStatus) int {
	n := 0
	for id, name := range s.sessions {
		if name == a.Name {
			delete(s.sessions, id)
			n++
		}
	}
	a.LiveSessions = 0
	return n
}

func (s *standIn) killAgent(w http.ResponseWriter, r *http.Request) {
	if a := s.agent(w, r.PathValue("name")); a != nil {
		answer(w, http.StatusOK, map[string]int{"killed": s.killAll(a)})
	}
}

func (s *standIn) suspend(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Reason, By string
		Kill       bool
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		answer(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	a := s.agent(w, r.PathValue("name"))
	if a == nil {
		return
	}
	a.Suspended, a.Reason = true, req.Reason
	out := map[string]any{"name": a.Name, "suspended": true, "reason": a.Reason}
	if req.Kill {
		out["killed"] = s.killAll(a)
	}
	answer(w, http.StatusOK, out)
}

func (s *standIn) restore(w http.ResponseWriter, r *http.Request) {
	if a := s.agent(w, r.PathValue("name")); a != nil {
		a.Suspended, a.Reason = false, ""
		answer(w, http.StatusOK, a)
	}
}

// testEnv is the environment the CLI sees in tests.
func testEnv(kv ...string) func(string) string {
	m := map[string]string{"WARDEN_ADMIN_TOKEN": adminToken, "USER": "tester"}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// runCLI parses args as warden's command line and runs the selected
// admin command with out captured.
func runCLI(t *testing.T, getenv func(string) string, args ...string) (string, error) {
	t.Helper()
	var c cli
	k, err := kong.New(&c, kong.Name("warden"), kong.Writers(io.Discard, io.Discard),
		kong.Exit(func(code int) { t.Fatalf("the command line %q made kong exit %d", args, code) }))
	if err != nil {
		t.Fatal(err)
	}
	kctx, err := k.Parse(args)
	if err != nil {
		return "", err
	}
	cmd, ok := kctx.Selected().Target.Addr().Interface().(adminCommand)
	if !ok {
		t.Fatalf("%q is not an admin command", args)
	}
	var out bytes.Buffer
	err = cmd.run(context.Background(), &out, getenv)
	return out.String(), err
}

func TestAdminClientErrors(t *testing.T) {
	_, srv := newStandIn(t)
	cases := []struct {
		name string
		env  func(string) string
		args []string
		want []string // fragments of the error
	}{
		{"no token", testEnv("WARDEN_ADMIN_TOKEN", ""), []string{"agents", "ls", "--admin", srv.URL},
			[]string{"the admin token is not set: put it in $WARDEN_ADMIN_TOKEN"}},
		{"token from another variable", testEnv(), []string{"agents", "ls", "--admin", srv.URL, "--admin-token-env", "OPS_TOKEN"},
			[]string{"$OPS_TOKEN"}},
		{"wrong token", testEnv("WARDEN_ADMIN_TOKEN", "nope"), []string{"agents", "ls", "--admin", srv.URL},
			[]string{"admin API GET /v1/agents: 401 Unauthorized: unauthorized: admin bearer token required", "$WARDEN_ADMIN_TOKEN does not hold warden's admin token"}},
		{"bad --admin", testEnv(), []string{"agents", "ls", "--admin", "127.0.0.1:7801"},
			[]string{`--admin "127.0.0.1:7801" is not a base URL`}},
		{"nobody listening", testEnv(), []string{"agents", "ls", "--admin", "http://127.0.0.1:1"},
			[]string{"admin API at http://127.0.0.1:1", "connection refused", "is warden serve running"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := runCLI(t, c.env, c.args...)
			if err == nil {
				t.Fatalf("succeeded with %q; want an error", out)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestAdminFromConfig finds the API from the config's admin.listen.
func TestAdminFromConfig(t *testing.T) {
	st, srv := newStandIn(t)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	base := "upstreams: [{name: up, stdio: {command: x}}]\nagents: [{name: bot, token_sha256: " + config.HashToken("bot") + "}]\n"
	withAdmin := write("w.yaml", base+"admin: {listen: "+strings.TrimPrefix(srv.URL, "http://")+", token_sha256: "+config.HashToken(adminToken)+"}\n")
	out, err := runCLI(t, testEnv(), "agents", "ls", "-c", withAdmin)
	if err != nil || !strings.Contains(out, "support-bot") {
		t.Fatalf("agents ls -c = %q, %v", out, err)
	}
	if r := st.last(t); r.Path != "/v1/agents" || r.Auth != "Bearer "+adminToken {
		t.Fatalf("request %+v", r)
	}
	noAdmin := write("plain.yaml", base)
	if _, err := runCLI(t, testEnv(), "agents", "ls", "-c", noAdmin); err == nil || !strings.Contains(err.Error(), "has no admin section") {
		t.Fatalf("agents ls -c without admin = %v; want a clear error", err)
	}
	// Every interface is reached on loopback.
	f := adminFlags{Config: write("any.yaml", base+"admin: {listen: \"0.0.0.0:7999\", token_sha256: "+config.HashToken(adminToken)+"}\n")}
	if u, err := f.baseURL(); err != nil || u != "http://127.0.0.1:7999" {
		t.Fatalf("baseURL for 0.0.0.0 = %q, %v", u, err)
	}
	if _, err := runCLI(t, testEnv(), "agents", "ls", "-c", noAdmin, "--admin", srv.URL); err == nil {
		t.Fatal("both -c and --admin were accepted")
	}
}

// TestExitCodes runs the real command: success exits 0, a refusal by the
// API exits non-zero with the API's message on stderr.
func TestExitCodes(t *testing.T) {
	_, srv := newStandIn(t)
	cases := []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"approvals", "approve", "ap-1", "--admin", srv.URL, "--by", "bob"}, 0, "approved ap-1 (payments_refund) once, by bob", ""},
		{[]string{"approvals", "approve", "ap-1", "--admin", srv.URL}, 1, "", "approval ap-1 was already decided; a decision is used once: admin API POST /v1/approvals/ap-1/decision: 409 Conflict: already decided (once by bob)"},
		{[]string{"approvals", "deny", "ap-3", "--admin", srv.URL}, 1, "", "410 Gone: approval expired: warden restarted"},
		{[]string{"kill", "--admin", srv.URL}, 1, "", "name one session"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args[:2], " "), func(t *testing.T) {
			cmd := exec.Command(os.Args[0], c.args...)
			cmd.Env = append(os.Environ(), "WARDEN_TEST_MAIN=1", "WARDEN_ADMIN_TOKEN="+adminToken)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != c.code || !strings.Contains(stdout.String(), c.stdout) || !strings.Contains(stderr.String(), c.stderr) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q", code, stdout.String(), stderr.String(), c.code, c.stdout, c.stderr)
			}
		})
	}
}
