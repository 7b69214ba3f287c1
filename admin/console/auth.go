package console

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"net/url"
	"time"
)

// authedFunc is a handler given the request's login.
type authedFunc func(w http.ResponseWriter, r *http.Request, l login)

// current returns the request's live login, if its cookie has one.
func (c *console) current(r *http.Request) (login, string, bool) {
	ck, err := r.Cookie(cookieName(r))
	if err != nil {
		return login{}, "", false
	}
	l, ok := c.logins.get(ck.Value, time.Now())
	if ok && !c.ops.Holds(c.sup, l.operator, l.token) {
		c.logins.end(ck.Value)
		return login{}, "", false
	}
	return l, ck.Value, ok
}

// page serves a page to a signed-in browser, and sends any other to the
// login page.
func (c *console) page(fn authedFunc) http.Handler {
	return c.signedIn(fn, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, Prefix+"login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
	})
}

// authed serves a non-page endpoint (the event stream) to a signed-in
// browser, and answers any other 401.
func (c *console) authed(fn authedFunc) http.Handler {
	return c.signedIn(fn, unauthorized)
}

// unauthorized answers a request that needs a login.
func unauthorized(w http.ResponseWriter, _ *http.Request) {
	http.Error(w, "unauthorized: sign in at "+Prefix+"login", http.StatusUnauthorized)
}

// signedIn runs fn for a signed-in browser, and otherwise for any other.
func (c *console) signedIn(fn authedFunc, otherwise http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l, _, ok := c.current(r)
		if !ok {
			otherwise(w, r)
			return
		}
		fn(w, r, l)
	})
}

// action serves a form post: signed in (else 401), from this origin, and
// carrying the login's CSRF token (else 403).
func (c *console) action(fn authedFunc) http.Handler {
	return c.signedIn(func(w http.ResponseWriter, r *http.Request, l login) {
		if !sameOrigin(r) {
			http.Error(w, "forbidden: cross-origin request", http.StatusForbidden)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		got := r.PostFormValue("csrf")
		if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(l.csrf)) != 1 {
			http.Error(w, "forbidden: missing or wrong CSRF token", http.StatusForbidden)
			return
		}
		fn(w, r, l)
	}, unauthorized)
}

// maxForm bounds a form's body.
const maxForm = 64 << 10

// sameOrigin reports whether a state-changing request comes from the
// console's own pages: the browser's Sec-Fetch-Site, when it sends it,
// says same-origin; else an Origin header, when present, is this host.
// Sec-Fetch-Site comes first because the pages' no-referrer policy makes
// the browser send "Origin: null" with their own form posts.
func sameOrigin(r *http.Request) bool {
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" {
		return s == "same-origin"
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	if err != nil {
		return false
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return u.Scheme == scheme && u.Host == r.Host
}

func (c *console) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := c.current(r); ok {
		http.Redirect(w, r, Prefix, http.StatusSeeOther)
		return
	}
	c.render(w, http.StatusOK, "login", view{Data: loginView{Next: safeNext(r.URL.Query().Get("next"))}})
}

// loginView is the login page's data.
type loginView struct {
	Next  string
	Error string
}

// safeNext keeps a post-login destination only when it is a console path.
func safeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || len(u.Path) < len(Prefix) || u.Path[:len(Prefix)] != Prefix {
		return Prefix
	}
	return u.RequestURI()
}

func (c *console) login(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		http.Error(w, "forbidden: cross-origin request", http.StatusForbidden)
		return
	}
	now := time.Now()
	client := clientOf(r)
	if dev := c.devices.of(r); dev != "" {
		client += " device " + dev // the failures of the operator who signed in here, not the address's
	}
	if !c.limiter.allowed(client, now) {
		c.render(w, http.StatusTooManyRequests, "login", view{Data: loginView{Next: Prefix, Error: "Too many failed sign-ins; wait a minute."}})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	next := safeNext(r.PostFormValue("next"))
	token := r.PostFormValue("token")
	name, ok := c.ops.Who(c.sup, token)
	if !ok {
		c.limiter.failed(client, now)
		c.render(w, http.StatusUnauthorized, "login", view{Data: loginView{Next: next, Error: "That token is not an admin token."}})
		return
	}
	id, err := c.logins.start(name, sha256.Sum256([]byte(token)), now)
	if err != nil {
		http.Error(w, "cannot sign in: "+err.Error(), http.StatusInternalServerError)
		return
	}
	setCookie(w, r, id, c.logins.ttl)
	c.devices.issue(w, r, name)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (c *console) logout(w http.ResponseWriter, r *http.Request, _ login) {
	if _, id, ok := c.current(r); ok {
		c.logins.end(id)
	}
	setCookie(w, r, "", 0)
	http.Redirect(w, r, Prefix+"login", http.StatusSeeOther)
}
