package admin

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
	"github.com/warden-dev/warden/tools"
)

const testAdminToken = "admin-token-0123456789abcdef"

func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// startTestSupervisor starts a Supervisor with no upstreams and agent "ops"
// on a fresh bbolt file, closed at cleanup.
func startTestSupervisor(t testing.TB, tweak func(*supervisor.Options)) (*supervisor.Supervisor, *store.DB) {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "warden.db"))
	if err != nil {
		t.Fatal(err)
	}
	hub, err := tools.NewHub(nil, tools.Options{})
	if err != nil {
		t.Fatal(err)
	}
	opts := supervisor.Options{Hub: hub, Store: db, Agents: []supervisor.Agent{{Name: "ops", TokenSHA256: tokenHash("agent-token-0123456789abcdef")}}}
	if tweak != nil {
		tweak(&opts)
	}
	sup, err := supervisor.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sup.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := sup.Close(context.Background()); err != nil {
			t.Errorf("close supervisor: %v", err)
		}
		_ = hub.Close()
		if err := db.Close(); err != nil && !errors.Is(err, store.ErrClosed) {
			t.Errorf("close store: %v", err)
		}
	})
	return sup, db
}

// signLink makes a decision link's token as supervisor/links.go documents
// the format, written again here so that a change of format shows.
func signLink(secret []byte, id, decision string, expires time.Time) string {
	k := hmac.New(sha256.New, secret)
	k.Write([]byte("warden decision link v1"))
	m := hmac.New(sha256.New, k.Sum(nil))
	payload := []byte(id + "|" + decision + "|" + strconv.FormatInt(expires.Unix(), 10))
	m.Write(payload)
	enc := base64.RawURLEncoding
	return enc.EncodeToString(payload) + "." + enc.EncodeToString(m.Sum(nil))
}

// adminServer serves sup's admin API over HTTP on 127.0.0.1 until cleanup.
func adminServer(t *testing.T, sup *supervisor.Supervisor) string {
	t.Helper()
	h, err := Handler(sup, tokenHash(testAdminToken))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// seedApproval records a session s1 (when absent) and an approval on it,
// decided when decision is set.
func seedApproval(t *testing.T, db *store.DB, id string, created, expires time.Time, decision string) {
	t.Helper()
	ctx := t.Context()
	if _, err := db.Session(ctx, "s1"); err != nil {
		if err := db.CreateSession(ctx, store.Session{ID: "s1", Agent: "ops", Started: created, State: store.StateActive}); err != nil {
			t.Fatal(err)
		}
	}
	args := []byte(`{"amount":500}`)
	digest, err := store.DigestArgs(args)
	if err != nil {
		t.Fatal(err)
	}
	a := store.Approval{ID: id, Session: "s1", Agent: "ops", Tool: "pay", Args: args, ArgsDigest: digest,
		Created: created, Expires: expires, State: store.ApprovalPending}
	if err := db.CreateApproval(ctx, a); err != nil {
		t.Fatal(err)
	}
	if decision != "" {
		if _, err := db.DecideApproval(ctx, id, decision, "alice", created); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAdminErrorStatus: the admin API tells a client's mistake (4xx) from
// warden's own failure to read or write its store (500, with a message).
func TestAdminErrorStatus(t *testing.T) {
	secret := []byte("link-secret-0123456789abcdef")
	linkOpts := func(o *supervisor.Options) {
		o.Escalation.LinkSecret = secret
		o.Escalation.PublicURL = "http://127.0.0.1:1"
	}
	open, openDB := startTestSupervisor(t, linkOpts)
	now := time.Now()
	seedApproval(t, openDB, "pending", now, now.Add(time.Hour), "")
	seedApproval(t, openDB, "decided", now, now.Add(time.Hour), store.DecisionDeny)
	seedApproval(t, openDB, "expired", now.Add(-2*time.Hour), now.Add(-time.Hour), "")
	flagged, err := openDB.Append(t.Context(), "s1", store.Event{Kind: store.KindCall, Tool: "pay", Verdict: "flag", Reasons: []string{"unusual"}})
	if err != nil {
		t.Fatal(err)
	}
	reviewed := "/v1/flags/" + store.FlagID("s1", flagged.Seq) + "/review"
	if _, err := openDB.ReviewFlag(t.Context(), store.FlagID("s1", flagged.Seq), "admin", "seen"); err != nil {
		t.Fatal(err)
	}

	broken, brokenDB := startTestSupervisor(t, linkOpts)
	seedApproval(t, brokenDB, "pending", now, now.Add(time.Hour), "")
	if err := brokenDB.Close(); err != nil {
		t.Fatal(err)
	}

	link := func(id string) string {
		return url.Values{"token": {signLink(secret, id, store.DecisionOnce, now.Add(time.Hour))}}.Encode()
	}
	cases := []struct {
		name         string
		sup          *supervisor.Supervisor
		method, path string
		body         string
		want         int
		says         string
	}{
		{"decide an unknown approval", open, "POST", "/v1/approvals/nope/decision", `{"decision":"deny","by":"alice"}`, 404, "not found"},
		{"decide with an unknown decision", open, "POST", "/v1/approvals/pending/decision", `{"decision":"maybe","by":"alice"}`, 400, "unknown decision"},
		{"decide without saying who", open, "POST", "/v1/approvals/pending/decision", `{"decision":"deny"}`, 400, "is required: who decides"},
		{"decide a decided approval", open, "POST", "/v1/approvals/decided/decision", `{"decision":"once","by":"bob"}`, 409, "already decided"},
		{"decide an expired approval", open, "POST", "/v1/approvals/expired/decision", `{"decision":"once","by":"bob"}`, 410, "expired"},
		{"read an unknown approval", open, "GET", "/v1/approvals/nope", "", 404, "not found"},
		{"list approvals in an unknown state", open, "GET", "/v1/approvals?state=bogus", "", 400, "state"},
		{"kill an unknown session", open, "POST", "/v1/sessions/nope/kill", "", 404, "not found"},
		{"suspend an unknown agent", open, "POST", "/v1/agents/nobody/suspend", "", 404, "no agent"},
		{"kill every session of an unknown agent", open, "POST", "/v1/agents/nobody/kill", "", 404, "no agent"},
		{"accept an unknown tool", open, "POST", "/v1/tools/nope/accept", `{"by":"alice"}`, 404, "not found"},
		{"follow a link to an unknown approval", open, "POST", "/v1/decide", link("nope"), 404, "not found"},
		{"review an unknown flag", open, "POST", "/v1/flags/s1.999/review", `{"note":"x"}`, 404, "not flagged"},
		{"review a flag without a note", open, "POST", reviewed, `{}`, 400, "is required: what the review found"},
		{"review a reviewed flag", open, "POST", reviewed, `{"note":"again"}`, 409, "reviewed by admin"},
		{"list flags in an unknown state", open, "GET", "/v1/flags?state=closed", "", 400, "state"},
		{"list flags since a bad time", open, "GET", "/v1/flags?since=yesterday", "", 400, "since"},

		{"decide with the store down", broken, "POST", "/v1/approvals/pending/decision", `{"decision":"deny","by":"alice"}`, 500, "store closed"},
		{"read an approval with the store down", broken, "GET", "/v1/approvals/pending", "", 500, "store closed"},
		{"list approvals with the store down", broken, "GET", "/v1/approvals", "", 500, "store closed"},
		{"list sessions with the store down", broken, "GET", "/v1/sessions", "", 500, "store closed"},
		{"read a session with the store down", broken, "GET", "/v1/sessions/s1", "", 500, "store closed"},
		{"kill a session with the store down", broken, "POST", "/v1/sessions/s1/kill", "", 500, "store closed"},
		{"suspend an agent with the store down", broken, "POST", "/v1/agents/ops/suspend", `{"by":"alice"}`, 500, "store closed"},
		{"follow a link with the store down", broken, "POST", "/v1/decide", link("pending"), 500, "store closed"},
		{"list flags with the store down", broken, "GET", "/v1/flags", "", 500, "store closed"},
		{"review a flag with the store down", broken, "POST", "/v1/flags/s1.1/review", `{"note":"x"}`, 500, "store closed"},
	}
	base := map[*supervisor.Supervisor]string{open: adminServer(t, open), broken: adminServer(t, broken)}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), tc.method, base[tc.sup]+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+testAdminToken)
			if tc.path == "/v1/decide" {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.want || !strings.Contains(string(body), tc.says) {
				t.Fatalf("%s %s: %d %s, want %d saying %q", tc.method, tc.path, resp.StatusCode, body, tc.want, tc.says)
			}
		})
	}
}
