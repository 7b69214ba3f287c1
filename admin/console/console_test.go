package console

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warden-dev/warden/admin"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
	"github.com/warden-dev/warden/tools"
)

// hashOf is a token's hex SHA-256, as configs hold it.
func hashOf(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// testConsole serves the console of a real supervisor (a bbolt file, no
// upstreams) whose admin token is shared, with carol's named token.
func testConsole(t *testing.T, shared string) (*supervisor.Supervisor, *httptest.Server) {
	t.Helper()
	sup, _, srv := testConsoleOps(t, shared)
	return sup, srv
}

// testConsoleOps is testConsole that also returns the named operators,
// for a test to reload them.
func testConsoleOps(t *testing.T, shared string) (*supervisor.Supervisor, *admin.Operators, *httptest.Server) {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "warden.db"))
	if err != nil {
		t.Fatal(err)
	}
	hub, err := tools.NewHub(nil, tools.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sup, err := supervisor.New(supervisor.Options{Hub: hub, Store: db})
	if err != nil {
		t.Fatal(err)
	}
	if err := sup.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := sup.SetAdminToken(hashOf(shared)); err != nil {
		t.Fatal(err)
	}
	ops, err := admin.NewOperators([]admin.Operator{{Name: "carol", TokenSHA256: hashOf("carol-token")}})
	if err != nil {
		t.Fatal(err)
	}
	h, stop, err := Handler(sup, ops)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		stop()
		_ = sup.Close(context.Background())
		_ = hub.Close()
		if err := db.Close(); err != nil && !errors.Is(err, store.ErrClosed) {
			t.Errorf("close store: %v", err)
		}
	})
	return sup, ops, srv
}

// signInAs posts a login and returns its cookie, or nil when refused.
func signInAs(t *testing.T, base, token string) *http.Cookie {
	t.Helper()
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := hc.PostForm(base+"/console/login", url.Values{"token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	// The login's cookie, then the browser's device cookie (devices.go).
	if res.StatusCode != http.StatusSeeOther || len(res.Cookies()) != 2 {
		return nil
	}
	return res.Cookies()[0]
}

// signedInAs reads the sessions page with a cookie and returns who it
// says is signed in ("" when sent to the login page).
func signedInAs(t *testing.T, base string, c *http.Cookie) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/console/", nil)
	req.AddCookie(c)
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return ""
	}
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	const mark = `<b id="operator">`
	s := string(b)
	i := strings.Index(s, mark)
	if i < 0 {
		t.Fatalf("no operator on the page:\n%s", s)
	}
	return s[i+len(mark) : i+len(mark)+strings.Index(s[i+len(mark):], "<")]
}

// TestSharedTokenRotation: the shared token signs in as "admin" and a
// named one under its name; after a reload rotates the shared token, the
// old token signs no one in and its logins end, while the new one and
// the named logins go on.
func TestSharedTokenRotation(t *testing.T) {
	sup, srv := testConsole(t, "old-shared")
	oldLogin := signInAs(t, srv.URL, "old-shared")
	carol := signInAs(t, srv.URL, "carol-token")
	if oldLogin == nil || carol == nil {
		t.Fatal("the shared or the named token did not sign in")
	}
	if who := signedInAs(t, srv.URL, oldLogin); who != admin.SharedName {
		t.Fatalf("shared login is %q, want %q", who, admin.SharedName)
	}
	if who := signedInAs(t, srv.URL, carol); who != "carol" {
		t.Fatalf("named login is %q, want carol", who)
	}
	if err := sup.SetAdminToken(hashOf("new-shared")); err != nil {
		t.Fatal(err)
	}
	if who := signedInAs(t, srv.URL, oldLogin); who != "" {
		t.Fatalf("a login with the rotated-out token still works, as %q", who)
	}
	if signInAs(t, srv.URL, "old-shared") != nil {
		t.Fatal("the rotated-out token signed in")
	}
	if c := signInAs(t, srv.URL, "new-shared"); c == nil || signedInAs(t, srv.URL, c) != admin.SharedName {
		t.Fatal("the new shared token does not sign in")
	}
	if who := signedInAs(t, srv.URL, carol); who != "carol" {
		t.Fatalf("carol's login after the rotation is %q", who)
	}
}

// TestNamedTokenRevoked: a reload that takes a named operator's token
// away (or replaces it) ends the logins made with it and signs no one in
// with it, while the other operators and the shared token go on.
func TestNamedTokenRevoked(t *testing.T) {
	_, ops, srv := testConsoleOps(t, "shared")
	carol := signInAs(t, srv.URL, "carol-token")
	shared := signInAs(t, srv.URL, "shared")
	if carol == nil || shared == nil {
		t.Fatal("carol or the shared token did not sign in")
	}
	if err := ops.Set([]admin.Operator{{Name: "carol", TokenSHA256: "zz"}}); err == nil {
		t.Fatal("a bad hash was accepted")
	}
	if who := signedInAs(t, srv.URL, carol); who != "carol" {
		t.Fatalf("a refused reload ended carol's login: %q", who)
	}
	if err := ops.Set([]admin.Operator{{Name: "dan", TokenSHA256: hashOf("dan-token")}, {Name: "erin", TokenSHA256: hashOf("carol-token")}}); err != nil {
		t.Fatal(err)
	}
	if who := signedInAs(t, srv.URL, carol); who != "" {
		t.Fatalf("carol's login outlived her token's removal, as %q", who)
	}
	if c := signInAs(t, srv.URL, "carol-token"); c == nil || signedInAs(t, srv.URL, c) != "erin" {
		t.Fatal("the token now named erin's does not sign in as erin")
	}
	if c := signInAs(t, srv.URL, "dan-token"); c == nil || signedInAs(t, srv.URL, c) != "dan" {
		t.Fatal("dan's new token does not sign in")
	}
	if who := signedInAs(t, srv.URL, shared); who != admin.SharedName {
		t.Fatalf("the shared login after the reload is %q", who)
	}
}

// TestLoginsExpire: a login is good until its expiry, then gone; an
// unknown or empty cookie is no login.
func TestLoginsExpire(t *testing.T) {
	l := newLogins(time.Hour)
	now := time.Now()
	id, err := l.start("dave", [32]byte{}, now)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		id   string
		at   time.Time
		ok   bool
	}{
		{"fresh", id, now.Add(time.Minute), true},
		{"unknown", id + "x", now, false},
		{"empty", "", now, false},
		{"expired", id, now.Add(time.Hour + time.Second), false},
		{"expired stays gone", id, now, false},
	}
	for _, tc := range cases {
		if got, ok := l.get(tc.id, tc.at); ok != tc.ok || (ok && got.operator != "dave") {
			t.Errorf("%s: get = %+v, %v; want ok %v", tc.name, got, ok, tc.ok)
		}
	}
}

// TestSafeNext: after login, only a console path is followed.
func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/console/approvals":      "/console/approvals",
		"/console/sessions/a?b=c": "/console/sessions/a?b=c",
		"https://evil.example/":   Prefix,
		"//evil.example/console/": Prefix,
		"/v1/sessions":            Prefix,
		"":                        Prefix,
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}
