package console

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestLoginLimitPerBrowser: every loopback client shares one address.
// A local user who fails to sign in five times must not lock out an
// operator whose browser signed in before; a browser's own failures
// still lock it out, and a forged device cookie counts with the address.
func TestLoginLimitPerBrowser(t *testing.T) {
	_, srv := testConsole(t, "shared-token")
	login := signIn(t, srv.URL)
	device := func(res *http.Response) *http.Cookie {
		t.Helper()
		for _, c := range res.Cookies() {
			if c.Name == "warden_console_device" {
				return c
			}
		}
		t.Fatalf("sign-in gave no device cookie: %v", res.Cookies())
		return nil
	}

	// The operator signed in from this browser earlier.
	res := login("carol-token")
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("first sign-in: %s", res.Status)
	}
	mine := device(res)

	// Another local client guesses until it is locked out.
	for i := range 5 {
		if res := login("guess"); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("guess %d: %s, want 401", i, res.Status)
		}
	}
	if res := login("carol-token"); res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("the guessing client after 5 failures: %s, want 429", res.Status)
	}
	forged := &http.Cookie{Name: mine.Name, Value: mine.Value + "x"}
	if res := login("carol-token", forged); res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a forged device cookie: %s, want 429 (counted with the address)", res.Status)
	}

	// The operator's browser is not locked out by it.
	if res := login("carol-token", mine); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("the operator's browser after another client's failures: %s, want signed in", res.Status)
	}
	// Its own failures lock it out.
	for i := range 5 {
		if res := login("guess", mine); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("the operator's guess %d: %s, want 401", i, res.Status)
		}
	}
	if res := login("carol-token", mine); res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("the operator's browser after its own 5 failures: %s, want 429", res.Status)
	}
}

// TestLoginLimitPerOperator: every browser an operator signed in from
// shares one count, so that signing in again with a valid token does not
// buy more guesses at other tokens.
func TestLoginLimitPerOperator(t *testing.T) {
	_, srv := testConsole(t, "shared-token")
	login := signIn(t, srv.URL)
	var devices []*http.Cookie
	for range 2 {
		res := login("carol-token")
		for _, c := range res.Cookies() {
			if c.Name == "warden_console_device" {
				devices = append(devices, c)
			}
		}
	}
	if len(devices) != 2 {
		t.Fatalf("two sign-ins gave %d device cookies", len(devices))
	}
	for i := range 5 {
		if res := login("guess", devices[0]); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("guess %d: %s, want 401", i, res.Status)
		}
	}
	if res := login("guess", devices[1]); res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("the same operator's other sign-in after 5 failures: %s, want 429", res.Status)
	}
}

// signIn returns a function that posts a sign-in with token (and
// cookies) to the console at base and returns its answer, unfollowed.
func signIn(t *testing.T, base string) func(token string, cookies ...*http.Cookie) *http.Response {
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return func(token string, cookies ...*http.Cookie) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, base+"/console/login", strings.NewReader(url.Values{"token": {token}}.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for _, c := range cookies {
			req.AddCookie(c)
		}
		res, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
}
