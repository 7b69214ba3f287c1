package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/warden-dev/warden/supervisor"
)

// consoleClient speaks to the console as a browser would, without
// following redirects, carrying the login cookie by hand.
type consoleClient struct {
	t      *testing.T
	base   string
	cookie *http.Cookie
}

// do sends a request with the cookie, if any, and extra headers; form, if
// not nil, is posted.
func (c *consoleClient) do(method, path string, form url.Values, headers ...string) (*http.Response, string) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if c.cookie != nil {
		req.AddCookie(c.cookie)
	}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// TestConsoleRefusesWithoutLoginOrCSRF: without a login, pages redirect to
// the login page and the stream and actions answer 401; a signed-in post
// without the CSRF token, or from another site, is refused 403 and kills
// nothing; the same post with the token kills. Pages carry the strict
// headers, the cookie is HttpOnly and SameSite=Strict, failed logins are
// limited, and a logged-out cookie no longer works.
func TestConsoleRefusesWithoutLoginOrCSRF(t *testing.T) {
	at := serveConsole(t)
	agent := dialAgent(t, at.MCP)
	call := func() error {
		req := mcp.CallToolRequest{}
		req.Params.Name = "read_file"
		req.Params.Arguments = map[string]any{"path": "policies/refunds.md"}
		res, err := agent.CallTool(context.Background(), req)
		if err == nil && res.IsError {
			t.Fatalf("call refused: %s", resultTextOf(res))
		}
		return err
	}
	if err := call(); err != nil {
		t.Fatal(err)
	}
	var rows []supervisor.SessionRow
	adminGet(t, at, "/v1/sessions", &rows)
	kill := "/console/sessions/" + rows[0].ID + "/kill"

	c := &consoleClient{t: t, base: at.Admin}
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, "/console/", http.StatusSeeOther},
		{http.MethodGet, "/console/sessions/" + rows[0].ID, http.StatusSeeOther},
		{http.MethodGet, "/console/approvals", http.StatusSeeOther},
		{http.MethodGet, "/console/events", http.StatusUnauthorized},
		{http.MethodPost, kill, http.StatusUnauthorized},
	} {
		var form url.Values
		if tc.method == http.MethodPost {
			form = url.Values{}
		}
		res, _ := c.do(tc.method, tc.path, form)
		if res.StatusCode != tc.status {
			t.Fatalf("%s %s without a login: %s, want %d", tc.method, tc.path, res.Status, tc.status)
		}
		if tc.status == http.StatusSeeOther && !strings.HasPrefix(res.Header.Get("Location"), "/console/login?next=") {
			t.Fatalf("%s redirects to %q, want the login page", tc.path, res.Header.Get("Location"))
		}
	}

	res, _ := c.do(http.MethodGet, "/console/login", nil)
	for h, want := range map[string]string{
		"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
	} {
		if got := res.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}

	// A login from another site is refused before the token is looked at.
	res, _ = c.do(http.MethodPost, "/console/login", url.Values{"token": {consoleTokens["alice"]}}, "Sec-Fetch-Site", "cross-site")
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site login: %s, want 403", res.Status)
	}
	res, _ = c.do(http.MethodPost, "/console/login", url.Values{"token": {"not-a-token"}})
	if res.StatusCode != http.StatusUnauthorized || len(res.Cookies()) != 0 {
		t.Fatalf("wrong token: %s, cookies %v", res.Status, res.Cookies())
	}
	res, _ = c.do(http.MethodPost, "/console/login", url.Values{"token": {consoleTokens["alice"]}, "next": {"https://evil.example/"}})
	// The login's cookie, then the browser's device cookie (for the login limiter).
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/console/" || len(res.Cookies()) != 2 {
		t.Fatalf("login: %s to %q, cookies %v", res.Status, res.Header.Get("Location"), res.Cookies())
	}
	c.cookie = res.Cookies()[0]
	if !c.cookie.HttpOnly || c.cookie.SameSite != http.SameSiteStrictMode || c.cookie.Secure {
		t.Fatalf("cookie = %+v, want HttpOnly, SameSite=Strict, not Secure over plain HTTP", c.cookie)
	}
	// The session list shows a live session's risk, and none once it ended.
	riskCell := regexp.MustCompile(`<td>\d+\.\d\d`)
	if _, list := c.do(http.MethodGet, "/console/", nil); !strings.Contains(list, rows[0].ID) || !riskCell.MatchString(list) {
		t.Fatalf("the session list does not show the live session with its risk:\n%s", list)
	}
	_, page := c.do(http.MethodGet, "/console/sessions/"+rows[0].ID, nil)
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on the timeline:\n%s", page)
	}
	csrf := m[1]
	if strings.Contains(page, "<script>") || !strings.Contains(page, `<script src="/console/static/console.js" defer></script>`) {
		t.Fatal("the page has an inline script, or not the console's script")
	}

	for _, tc := range []struct {
		name    string
		form    url.Values
		headers []string
	}{
		{"no CSRF token", url.Values{"reason": {"x"}}, nil},
		{"a wrong CSRF token", url.Values{"csrf": {csrf + "x"}}, nil},
		{"another site (Sec-Fetch-Site)", url.Values{"csrf": {csrf}}, []string{"Sec-Fetch-Site", "cross-site"}},
		{"another origin", url.Values{"csrf": {csrf}}, []string{"Origin", "http://evil.example"}},
	} {
		res, _ := c.do(http.MethodPost, kill, tc.form, tc.headers...)
		if res.StatusCode != http.StatusForbidden {
			t.Fatalf("kill with %s: %s, want 403", tc.name, res.Status)
		}
	}
	if err := call(); err != nil {
		t.Fatalf("a refused kill killed the session: %v", err)
	}
	res, _ = c.do(http.MethodPost, kill, url.Values{"csrf": {csrf}}, "Origin", at.Admin, "Sec-Fetch-Site", "same-origin")
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("kill with the token: %s", res.Status)
	}
	if err := call(); err == nil {
		t.Fatal("the session lived on after the console's kill")
	}
	if _, list := c.do(http.MethodGet, "/console/", nil); riskCell.MatchString(list) {
		t.Fatalf("a killed session still shows a live risk:\n%s", list)
	}

	// Signed out, the same cookie is worth nothing.
	if res, _ := c.do(http.MethodPost, "/console/logout", url.Values{"csrf": {csrf}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %s", res.Status)
	}
	if res, _ := c.do(http.MethodGet, "/console/", nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("after logout: %s, want a redirect to the login page", res.Status)
	}

	// Five failed logins, and even the right token waits.
	c.cookie = nil
	for range 5 {
		c.do(http.MethodPost, "/console/login", url.Values{"token": {"guess"}})
	}
	if res, _ := c.do(http.MethodPost, "/console/login", url.Values{"token": {consoleTokens["bob"]}}); res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("login after 6 failures: %s, want 429", res.Status)
	}
}
