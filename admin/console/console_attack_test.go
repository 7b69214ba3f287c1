package console

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
)

// renderPage runs a real page template with data, as a signed-in operator.
func renderPage(t *testing.T, name string, data any) string {
	t.Helper()
	pages, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := pages[name].ExecuteTemplate(&buf, "layout", view{Operator: "carol", CSRF: "c", Page: name, Data: data}); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// A rug-pulling upstream names a tool so that its "Accept" form, once
// the browser resolves the dot segments of its action, posts somewhere
// else (here: kill every session of another agent). The name must stay
// one path segment and reach the accept handler whole.
func TestAttackToolNameStaysOnePathSegment(t *testing.T) {
	for _, name := range []string{"../agents/victim/kill?", "a/b", "x#y", "..", "ok_tool"} {
		t.Run(name, func(t *testing.T) {
			page := renderPage(t, "tools", []supervisor.ToolStatus{{Name: name, Changed: true, Hash: "h2", Pinned: "h1"}})
			m := regexp.MustCompile(`<form method="post" action="(/console/tools/[^"]*)"`).FindStringSubmatch(page)
			if m == nil {
				t.Fatalf("no accept form in:\n%s", page)
			}
			base, _ := url.Parse("http://127.0.0.1/console/tools")
			ref, err := url.Parse(html.UnescapeString(m[1]))
			if err != nil {
				t.Fatal(err)
			}
			target := base.ResolveReference(ref) // removes dot segments as a browser does
			var hit, got string
			mux := http.NewServeMux()
			mux.HandleFunc("POST /console/tools/{name}/accept", func(_ http.ResponseWriter, r *http.Request) {
				hit, got = "accept", r.PathValue("name")
			})
			mux.HandleFunc("POST /", func(_ http.ResponseWriter, r *http.Request) { hit = r.URL.Path })
			mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, target.String(), nil))
			if hit != "accept" || got != name {
				t.Errorf("action %q posts to %q (tool %q), want the accept of %q", m[1], hit, got, name)
			}
		})
	}
}

// An agent hides what a held call does with characters the approver
// cannot see (zero-width, bidi overrides, controls) or a value too long to
// read: the page must spell the hidden ones out and show the whole value.
func TestAttackHeldCallShowsHiddenCharacters(t *testing.T) {
	long := strings.Repeat("A", 100_000) + "END"
	args, err := json.Marshal(map[string]string{"path": "/safe/\u202etxt.exe", "zw": "rm\u200b -rf", "long": long})
	if err != nil {
		t.Fatal(err)
	}
	a := store.Approval{ID: "ap1", Agent: "bot", Tool: "write\u202eeliF", Session: "s1", Args: args}
	page := renderPage(t, "approvals", approvalsView{Pending: []heldCall{{Approval: a}}})
	for _, hidden := range []string{"\u202e", "\u200b"} {
		if strings.Contains(page, hidden) {
			t.Errorf("page carries the invisible %U as is", []rune(hidden)[0])
		}
	}
	for _, want := range []string{`/safe/\u202Etxt.exe`, `rm\u200B -rf`, `write\u202EeliF`, long} {
		if !strings.Contains(page, want) {
			t.Errorf("page does not show %.40q", want)
		}
	}
}

func TestVisible(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain text, ünïcode", "plain text, ünïcode"},
		{"a\u202eb", `a\u202Eb`},
		{"tab\there", `tab\u0009here`},
		{"nbsp\u00a0x", `nbsp\u00A0x`},
		{"tag\U000E0041", `tag\uDB40\uDC41`},
	} {
		if got := visible(tc.in); got != tc.want {
			t.Errorf("visible(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// browser is a console client with one login cookie; a round trip does
// not follow redirects.
type browser struct {
	t      *testing.T
	base   string
	cookie *http.Cookie
}

// send posts form (or, for GET, sends no body) with the cookie and the
// header pairs given, and returns the response and its body.
func (b *browser) send(method, path string, form url.Values, headers ...string) (*http.Response, string) {
	b.t.Helper()
	req := httptest.NewRequest(method, b.base+path, strings.NewReader(form.Encode()))
	req.RequestURI = "" // a client request, not a server's
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for len(headers) > 1 {
		req.Header.Set(headers[0], headers[1])
		headers = headers[2:]
	}
	if b.cookie != nil {
		req.AddCookie(b.cookie)
	}
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return res, string(out)
}

// Two held calls that look the same: the form shown under one approval
// decides that one, and fields a named operator adds to claim another
// name (by, decided_by, operator) are not what the record says.
func TestAttackDecisionBindsToShownIDAndOperator(t *testing.T) {
	sup, srv := testConsole(t, "shared-token")
	ctx := context.Background()
	args := json.RawMessage(`{"amount":5000}`)
	for _, id := range []string{"ap-a", "ap-b"} {
		if err := sup.Store().CreateApproval(ctx, store.Approval{ID: id, Session: "s1", Agent: "bot", Tool: "refund",
			Args: args, Expires: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	b := &browser{t: t, base: srv.URL, cookie: signInAs(t, srv.URL, "carol-token")}
	if b.cookie == nil {
		t.Fatal("carol cannot sign in")
	}
	_, page := b.send(http.MethodGet, "/console/approvals", nil)
	m := regexp.MustCompile(`(?s)<section class="held" id="approval-ap-b">.*?action="([^"]+)".*?name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no form under approval ap-b:\n%s", page)
	}
	form := url.Values{"csrf": {m[2]}, "decision": {"deny"}, "by": {"mallory"}, "decided_by": {"mallory"}, "operator": {"admin"}}
	if res, body := b.send(http.MethodPost, html.UnescapeString(m[1]), form, "Sec-Fetch-Site", "same-origin"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("decide: %s %s", res.Status, body)
	}
	for id, want := range map[string]struct{ state, by string }{"ap-a": {store.ApprovalPending, ""}, "ap-b": {store.ApprovalDenied, "carol"}} {
		a, err := sup.Store().Approval(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if a.State != want.state || a.DecidedBy != want.by {
			t.Errorf("%s: state %q by %q, want %q by %q", id, a.State, a.DecidedBy, want.state, want.by)
		}
	}
}

// Someone who reaches the listener without a token: the limit on failed
// sign-ins is per connection address, so a forged X-Forwarded-For does
// not buy more guesses; a cookie value planted before sign-in is not the
// one the login gets (no fixation); a login from another port of the same
// host (same-site, not same-origin) or from an opaque origin is refused.
func TestAttackLoginFromTheNetwork(t *testing.T) {
	_, srv := testConsole(t, "shared-token")
	b := &browser{t: t, base: srv.URL}
	for _, h := range [][]string{
		{"Sec-Fetch-Site", "same-site", "Origin", "http://127.0.0.1:1"},
		{"Origin", "null"},
		{"Origin", "http://127.0.0.1:1"},
	} {
		if res, _ := b.send(http.MethodPost, "/console/login", url.Values{"token": {"carol-token"}}, h...); res.StatusCode != http.StatusForbidden || len(res.Cookies()) != 0 {
			t.Errorf("login with %v: %s, cookies %v; want 403 and none", h, res.Status, res.Cookies())
		}
	}

	planted := &http.Cookie{Name: "warden_console", Value: "attacker-chosen-value"}
	b.cookie = planted
	res, _ := b.send(http.MethodPost, "/console/login", url.Values{"token": {"carol-token"}})
	if res.StatusCode != http.StatusSeeOther || len(res.Cookies()) != 2 || res.Cookies()[0].Value == planted.Value {
		t.Fatalf("login over a planted cookie: %s, cookies %v", res.Status, res.Cookies())
	}
	if who := signedInAs(t, srv.URL, planted); who != "" {
		t.Fatalf("the planted cookie signs in as %q", who)
	}

	b.cookie = nil
	for i := range 5 {
		b.send(http.MethodPost, "/console/login", url.Values{"token": {"guess"}}, "X-Forwarded-For", "10.0.0."+strconv.Itoa(i))
	}
	res, _ = b.send(http.MethodPost, "/console/login", url.Values{"token": {"carol-token"}}, "X-Forwarded-For", "10.9.9.9", "X-Real-IP", "10.9.9.9")
	if res.StatusCode != http.StatusTooManyRequests || len(res.Cookies()) != 0 {
		t.Fatalf("sign-in after 5 failures under new forwarded addresses: %s, want 429", res.Status)
	}
}

// Every answer under /console/ — pages, the login page, errors, the
// stream refused, static files — forbids framing and caching, and the
// stream tells a browser without a live login nothing but 401.
func TestAttackHeadersAndStreamWithoutLogin(t *testing.T) {
	_, srv := testConsole(t, "shared-token")
	b := &browser{t: t, base: srv.URL}
	for _, tc := range []struct {
		method, path string
		cookie       *http.Cookie
		status       int
	}{
		{http.MethodGet, "/console/login", nil, http.StatusOK},
		{http.MethodGet, "/console/no-such-page", nil, http.StatusNotFound},
		{http.MethodGet, "/console/static/console.js", nil, http.StatusOK},
		{http.MethodGet, "/console/events", nil, http.StatusUnauthorized},
		{http.MethodGet, "/console/events", &http.Cookie{Name: "warden_console", Value: "ended-or-forged"}, http.StatusUnauthorized},
		{http.MethodPost, "/console/approvals/x/decision", nil, http.StatusUnauthorized},
		{http.MethodPut, "/console/login", nil, http.StatusMethodNotAllowed},
	} {
		b.cookie = tc.cookie
		res, body := b.send(tc.method, tc.path, url.Values{})
		if res.StatusCode != tc.status {
			t.Errorf("%s %s: %s, want %d", tc.method, tc.path, res.Status, tc.status)
		}
		for h, want := range map[string]string{"X-Frame-Options": "DENY", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"} {
			if got := res.Header.Get(h); got != want {
				t.Errorf("%s %s: %s = %q, want %q", tc.method, tc.path, h, got, want)
			}
		}
		if !strings.Contains(res.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Errorf("%s %s: CSP %q allows framing", tc.method, tc.path, res.Header.Get("Content-Security-Policy"))
		}
		if tc.path == "/console/events" && (strings.Contains(body, "event:") || res.Header.Get("Content-Type") == "text/event-stream") {
			t.Errorf("the stream speaks to %v: %q", tc.cookie, body)
		}
	}
}

// An agent spells what a call does with JSON escapes; the approver reads
// it decoded, with the same keys in the same order (a repeated key shown
// twice), and what is hidden spelled out: the same JSON value.
func TestAttackArgumentsReadDecoded(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"cmd":"\u0072\u006d -rf /"}`, `{"cmd":"rm -rf /"}`},
		{`{"q":"a \u003c b \u0026 c"}`, `{"q":"a < b & c"}`},
		{`{"p":"safe","p":"evil"}`, `{"p":"safe","p":"evil"}`},
		{`{ "z" : [1, 2.50, true, null, {"b":"x\"y\\z"}], "a": {} }`, `{"z":[1,2.50,true,null,{"b":"x\"y\\z"}],"a":{}}`},
		{`{"zw":"x\u200by","nl":"a\nb"}`, `{"zw":"x\u200By","nl":"a\u000Ab"}`},
		{`["\ud83d\ude00", []]`, `["😀",[]]`},
	} {
		got, err := readable([]byte(tc.in))
		if err != nil || got != tc.want {
			t.Errorf("readable(%s) = %s, %v; want %s", tc.in, got, err, tc.want)
			continue
		}
		var a, b any
		if json.Unmarshal([]byte(tc.in), &a) != nil || json.Unmarshal([]byte(got), &b) != nil || !reflect.DeepEqual(a, b) {
			t.Errorf("readable(%s) = %s is not the same value", tc.in, got)
		}
	}
	if got, err := readable([]byte(`{"bad":`)); err == nil {
		t.Errorf("readable of cut JSON = %q, want an error", got)
	}
}

// A stream opened before its login ended (here: signed out) tells that
// browser nothing more: the next change ends it instead of being sent.
func TestAttackStreamEndsWithItsLogin(t *testing.T) {
	sup, srv := testConsole(t, "shared-token")
	ctx := context.Background()
	b := &browser{t: t, base: srv.URL, cookie: signInAs(t, srv.URL, "carol-token")}
	_, page := b.send(http.MethodGet, "/console/approvals", nil)
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token:\n%s", page)
	}
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/console/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(b.cookie)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	lines := bufio.NewReader(res.Body)
	for {
		line, err := lines.ReadString('\n')
		if err != nil {
			t.Fatalf("stream before ready: %v", err)
		}
		if line == "data: ready\n" {
			break
		}
	}
	if res, _ := b.send(http.MethodPost, "/console/logout", url.Values{"csrf": {m[1]}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %s", res.Status)
	}
	if err := sup.Store().CreateApproval(ctx, store.Approval{ID: "ap-x", Session: "s1", Tool: "t", Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := sup.DecideApproval(ctx, "ap-x", "deny", "admin"); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(lines)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(rest), "event:") {
		t.Fatalf("a signed-out stream was sent %q", rest)
	}
}
