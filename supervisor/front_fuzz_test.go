package supervisor

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/warden-dev/warden/store"
)

const fuzzToken = "fuzz-token-0123456789abcdef"

// fuzzFront is a Supervisor with no upstreams, a real bbolt file, one agent
// and one live session that fuzzed requests may aim at.
type fuzzFront struct {
	sup  *Supervisor
	h    http.Handler
	db   *store.DB
	live string
}

func newFuzzFront(t testing.TB) *fuzzFront {
	t.Helper()
	sup, db := startTestSupervisor(t, nil, func(o *Options) {
		o.Agents = []Agent{{Name: "fuzz", TokenSHA256: tokenHash(fuzzToken)}}
	})
	f := &fuzzFront{sup: sup, h: sup.Handler(), db: db}
	f.ensureLive(t)
	return f
}

const (
	fuzzInit        = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"fuzz","version":"1"}}}`
	fuzzInitialized = `{"jsonrpc":"2.0","method":"notifications/initialized"}`
	fuzzList        = `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`
	fuzzCall        = `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"}}}`
)

// ensureLive opens a session with the valid token when the last one was
// ended (a fuzzed DELETE may end it).
func (f *fuzzFront) ensureLive(t testing.TB) {
	t.Helper()
	if f.live != "" && f.sup.sessions.get(f.live) != nil {
		return
	}
	rec := f.post(fuzzInit, "")
	f.live = rec.Header().Get("Mcp-Session-Id")
	if rec.Code != http.StatusOK || f.live == "" {
		t.Fatalf("initialize with the valid token: %d %s", rec.Code, rec.Body)
	}
	if rec := f.post(fuzzInitialized, f.live); rec.Code != http.StatusAccepted {
		t.Fatalf("initialized: %d %s", rec.Code, rec.Body)
	}
}

func (f *fuzzFront) post(body, sid string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/mcp", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+fuzzToken)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if sid != "" {
		req.Header.Set("Mcp-Session-Id", sid)
		req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	return rec
}

// Statuses the front and mcp-go's transport may answer with; anything
// else (a 500 above all) is a finding.
var frontStatuses = map[int]bool{
	http.StatusOK: true, http.StatusAccepted: true,
	http.StatusBadRequest: true, http.StatusUnauthorized: true, http.StatusForbidden: true,
	http.StatusNotFound: true, http.StatusMethodNotAllowed: true, http.StatusNotAcceptable: true,
	http.StatusRequestEntityTooLarge: true, http.StatusUnsupportedMediaType: true,
}

// pick chooses among fixed values by a fuzzed selector, the last choice
// being the fuzzed string itself, so that well-formed headers are common
// enough to get requests past the front.
func pick(sel uint8, fuzzed string, fixed ...string) string {
	i := int(sel) % (len(fixed) + 1)
	if i == len(fixed) {
		return fuzzed
	}
	return fixed[i]
}

// FuzzFront sends arbitrary bodies and headers to the MCP endpoint: it
// must not panic or hang, must answer with an expected status, and must
// not open a session for a request that does not carry the agent's token.
func FuzzFront(f *testing.F) {
	for i, body := range []string{fuzzInit, fuzzInitialized, fuzzList, fuzzCall, `[` + fuzzList + `,` + fuzzCall + `]`, `{}`, ``, `null`,
		`{"jsonrpc":"2.0","id":9,"result":{}}`, `{"jsonrpc":"2.0","id":1,"method":"ping"}`} {
		sel := uint8(i)
		f.Add(uint8(0), body, sel, "Bearer "+fuzzToken, sel, "", sel, "application/json", sel, "127.0.0.1", sel, "http://localhost")
		f.Add(uint8(1), body, uint8(1), "Bearer "+fuzzToken, uint8(1), "", uint8(0), "", uint8(1), "localhost:8080", uint8(3), "")
	}
	f.Add(uint8(2), fuzzInit, uint8(3), "bearer "+fuzzToken+" ", uint8(2), "0123456789abcdef0123456789abcdef", uint8(3), "application/json; charset=utf-8", uint8(3), "[::1]:9", uint8(3), "null")
	f.Add(uint8(3), fuzzInit, uint8(3), "Basic "+fuzzToken, uint8(2), "", uint8(3), "text/plain", uint8(3), "evil.example", uint8(3), "https://evil.example")

	ff := newFuzzFront(f)
	methods := []string{http.MethodPost, http.MethodPost, http.MethodPost, http.MethodDelete, http.MethodPut, http.MethodOptions, http.MethodHead}

	f.Fuzz(func(t *testing.T, method uint8, body string, authSel uint8, auth string, sidSel uint8, sid string, ctSel uint8, ct string, hostSel uint8, host string, originSel uint8, origin string) {
		ff.ensureLive(t)
		auth = pick(authSel, auth, "Bearer "+fuzzToken, "", "Bearer wrong-token")
		sid = pick(sidSel, sid, ff.live, "")
		ct = pick(ctSel, ct, "application/json")
		host = pick(hostSel, host, "127.0.0.1:8080", "localhost")
		origin = pick(originSel, origin, "")

		// GET opens a stream that lasts as long as the request: not for a recorder.
		m := methods[int(method)%len(methods)]
		req := httptest.NewRequest(m, "http://127.0.0.1/mcp", strings.NewReader(body))
		req.Host = host
		for k, v := range map[string]string{"Authorization": auth, "Mcp-Session-Id": sid, "Content-Type": ct, "Origin": origin} {
			if v != "" {
				req.Header[k] = []string{v} // as sent, even if not canonical
			}
		}
		req.Header.Set("Accept", "application/json, text/event-stream")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req = req.WithContext(ctx)

		before := time.Now()
		rec := httptest.NewRecorder()
		ff.h.ServeHTTP(rec, req)
		if ctx.Err() != nil {
			t.Fatalf("%s with body %q hung until its deadline", m, body)
		}
		if !frontStatuses[rec.Code] {
			t.Fatalf("%s %q (auth %q, session %q, type %q, host %q, origin %q) answered %d: %s", m, body, auth, sid, ct, host, origin, rec.Code, rec.Body)
		}
		// The one request without a token that may succeed: a DELETE that
		// ends a live session from its own address (tokenlessEnd).
		endsItself := auth == "" && m == http.MethodDelete && sid == ff.live && rec.Code == http.StatusOK
		if !strings.Contains(auth, fuzzToken) && !endsItself {
			if rec.Code != http.StatusUnauthorized && rec.Code != http.StatusForbidden {
				t.Fatalf("a request without the token was answered %d: %s", rec.Code, rec.Body)
			}
			if id := rec.Header().Get("Mcp-Session-Id"); id != "" {
				t.Fatalf("a request without the token was given session id %q", id)
			}
			got, err := ff.db.Sessions(context.Background(), store.Filter{Since: before})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 0 {
				t.Fatalf("a request without the token created sessions %+v", got)
			}
		}
	})
}
