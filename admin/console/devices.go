package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"time"
)

// devices tell apart, for the login limiter, the browsers that share a
// client address (every loopback client, every operator behind one
// proxy): a browser that signed in gets a device cookie naming the
// operator, signed with a key of this process, and its failed sign-ins
// count on their own, so that another client failing at that address
// does not lock it out. The count is the operator's, not the browser's:
// the cookie is had only with a valid token, and signing in again (or
// from many browsers) must not buy more guesses at other tokens. A
// browser without one (it never signed in since warden started, or its
// cookie is forged) counts with its address, as before.
type devices struct {
	key []byte
}

// deviceTTL is how long a browser keeps its device cookie.
const deviceTTL = 30 * 24 * time.Hour

func newDevices() *devices {
	key := make([]byte, 32)
	_, _ = rand.Read(key) // never fails (crypto/rand)
	return &devices{key: key}
}

// deviceCookie names the device cookie (host-only over TLS).
func deviceCookie(r *http.Request) string {
	if r.TLS != nil {
		return "__Host-warden_console_device"
	}
	return "warden_console_device"
}

func (d *devices) mac(id string) string {
	m := hmac.New(sha256.New, d.key)
	m.Write([]byte("warden-console-device/1\x00" + id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// issue gives the browser a device cookie for operator.
func (d *devices) issue(w http.ResponseWriter, r *http.Request, operator string) {
	id := base64.RawURLEncoding.EncodeToString([]byte(operator))
	http.SetCookie(w, &http.Cookie{Name: deviceCookie(r), Value: id + "." + d.mac(id), Path: "/", HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode, MaxAge: int(deviceTTL.Seconds())})
}

// of returns the device id of the request's cookie (it names the operator
// who signed in there), "" without a valid device cookie.
func (d *devices) of(r *http.Request) string {
	ck, err := r.Cookie(deviceCookie(r))
	if err != nil {
		return ""
	}
	id, sig, ok := strings.Cut(ck.Value, ".")
	if !ok || !hmac.Equal([]byte(sig), []byte(d.mac(id))) {
		return ""
	}
	return id
}
