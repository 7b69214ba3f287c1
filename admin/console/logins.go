package console

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// A signed-in browser is known by a random 256-bit id in a cookie; only
// the id's hash is kept, so a leak of the server's memory or logs does not
// hand out live sessions.

// login is one signed-in browser.
type login struct {
	operator string
	csrf     string // the token every form of this login carries
	expires  time.Time
	// token is the SHA-256 of the admin token the login was made with,
	// checked on every request: a reload that rotates the shared token or
	// takes a named one away ends the logins made with it.
	token [sha256.Size]byte
}

// logins are the signed-in browsers, by the SHA-256 of their cookie.
type logins struct {
	mu  sync.Mutex
	ttl time.Duration
	m   map[[sha256.Size]byte]login
}

func newLogins(ttl time.Duration) *logins {
	return &logins{ttl: ttl, m: map[[sha256.Size]byte]login{}}
}

// randomToken returns 256 random bits, URL-safe.
func randomToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// start signs operator in and returns the cookie's value; token is the
// SHA-256 of the admin token it signed in with.
func (l *logins) start(operator string, token [sha256.Size]byte, now time.Time) (string, error) {
	id, err := randomToken()
	if err != nil {
		return "", err
	}
	csrf, err := randomToken()
	if err != nil {
		return "", err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, v := range l.m {
		if now.After(v.expires) {
			delete(l.m, k)
		}
	}
	l.m[sha256.Sum256([]byte(id))] = login{operator: operator, csrf: csrf, expires: now.Add(l.ttl), token: token}
	return id, nil
}

// get finds the live login of a cookie's value.
func (l *logins) get(id string, now time.Time) (login, bool) {
	if id == "" {
		return login{}, false
	}
	key := sha256.Sum256([]byte(id))
	l.mu.Lock()
	defer l.mu.Unlock()
	v, ok := l.m[key]
	if !ok {
		return login{}, false
	}
	if now.After(v.expires) {
		delete(l.m, key)
		return login{}, false
	}
	return v, true
}

// end signs a cookie's login out.
func (l *logins) end(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, sha256.Sum256([]byte(id)))
}

// cookieName is the login cookie's name: __Host- prefixed over TLS, so
// that the browser only accepts it Secure, host-only and for path /.
func cookieName(r *http.Request) string {
	if r.TLS != nil {
		return "__Host-warden_console"
	}
	return "warden_console"
}

// setCookie gives the browser its login cookie (or, with an empty value,
// removes it).
func setCookie(w http.ResponseWriter, r *http.Request, value string, ttl time.Duration) {
	c := &http.Cookie{Name: cookieName(r), Value: value, Path: "/", HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode, MaxAge: int(ttl.Seconds())}
	if value == "" {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}
