package supervisor

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	"github.com/mark3labs/mcp-go/server"

	"github.com/warden-dev/warden/workflows"
)

// front guards the MCP endpoint before mcp-go sees a request: Host and
// Origin (DNS rebinding), the bearer token (401, and no session is
// created), the body size (413), and that a session id belongs to the
// agent presenting it.
func (s *Supervisor) front(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		remote, err := clientAddr(r.RemoteAddr, r.Header, s.opts.Network.TrustedProxies)
		if err != nil {
			s.log.Warn("malformed forwarding header: the request is taken to come from the proxy", "peer", r.RemoteAddr, "err", err)
		}
		// A request another replica forwarded comes from the agent that
		// replica saw, not from the replica.
		claim, forwardedIn, err := s.forwardedFrom(r)
		if err != nil {
			httpError(w, forwardRefusedStatus(err), err.Error())
			return
		}
		fingerprint := s.opts.Network.fingerprint(r)
		if forwardedIn {
			remote, fingerprint = claim.remote, claim.fingerprint
		}
		if !s.hostAllowed(r.Host) {
			httpError(w, http.StatusForbidden, "forbidden: Host "+quote(r.Host)+" is not allowed")
			return
		}
		if o := r.Header.Get("Origin"); o != "" && !s.originAllowed(o) {
			httpError(w, http.StatusForbidden, "forbidden: Origin "+quote(o)+" is not allowed")
			return
		}
		token, hasToken := Bearer(r)
		if !hasToken && s.tokenlessEnd(w, r, remote, forwardedIn, next) {
			return
		}
		agent, local, ok := s.agents.Load().match(token)
		// A local token is for a stdio bridge on this machine: from
		// anywhere else (or relayed by a proxy) it is no token at all.
		if ok && local && !(loopback(r.RemoteAddr) && loopback(remote)) {
			ok = false
		}
		if !ok {
			challenge := `Bearer realm="warden"`
			if hasToken {
				challenge += `, error="invalid_token"`
			}
			w.Header().Set("WWW-Authenticate", challenge)
			s.authRefused(remote, hasToken)
			httpError(w, http.StatusUnauthorized, "unauthorized: a valid bearer token is required")
			return
		}
		if rec, suspended := s.suspension(agent.Name); suspended {
			httpError(w, http.StatusForbidden, "forbidden: agent "+quote(agent.Name)+" is suspended ("+rec.Reason+")")
			return
		}
		var intent *workflows.Intent
		var body []byte
		if r.Method == http.MethodPost {
			if r.ContentLength > s.opts.MaxBodyBytes {
				httpError(w, http.StatusRequestEntityTooLarge, "request body exceeds the limit")
				return
			}
			if body, err = readBody(w, r, s.opts.MaxBodyBytes); err != nil {
				// Declared here, not above: errors.As moves it to the heap.
				var tooBig *http.MaxBytesError
				if errors.As(err, &tooBig) {
					httpError(w, http.StatusRequestEntityTooLarge, "request body exceeds the limit")
					return
				}
				httpError(w, http.StatusBadRequest, "cannot read request body")
				return
			}
			rb := &readBack{}
			rb.Reset(body)
			r.Body = rb
			if intent, err = initializeIntent(body, r.Header.Get(intentHeader)); err != nil {
				httpError(w, http.StatusBadRequest, err.Error())
				return
			}
		}
		sid := r.Header.Get(server.HeaderKeySessionID)
		if sid == "" && r.Method == http.MethodPost {
			// Only an initialize opens a session; anything else without
			// an id is refused by mcp-go, and counts against the rate all
			// the same.
			release, refused := s.admitSession(r.Context(), agent.Name)
			if refused != "" {
				w.Header().Set("Retry-After", "1")
				httpError(w, http.StatusTooManyRequests, "too many requests: "+refused)
				return
			}
			defer release()
		}
		var sess *session
		if sid != "" {
			var done bool
			if sess, done, err = s.routed(w, r, sid, agent.Name, remote, forwardedIn, body); err != nil {
				httpError(w, http.StatusServiceUnavailable, err.Error())
				return
			} else if done {
				return // forwarded to the replica that serves the session, and answered
			}
			if sess == nil {
				// A session that a previous run left live comes back.
				var err error
				if sess, err = s.resume(r.Context(), sid, identity{agent: agent}); err != nil {
					httpError(w, http.StatusNotFound, "session not found: "+err.Error())
					return
				}
			}
		}
		switch {
		case (r.Method == http.MethodGet || r.Method == http.MethodDelete) && sess == nil:
			// mcp-go would open a session for any id on GET; only live
			// sessions may listen or end.
			httpError(w, http.StatusNotFound, "session not found")
			return
		case sess != nil && sess.agent.Name != agent.Name:
			// Another agent's session id is answered as if it did not exist.
			httpError(w, http.StatusNotFound, "session not found")
			return
		case sess != nil && !s.revalidate(r, sess, remote, fingerprint):
			httpError(w, http.StatusNotFound, "session not found: it was ended because it changed hands")
			return
		}
		ctx := withIdentity(r.Context(), identity{agent: agent, remote: remote, userAgent: r.UserAgent(), intent: intent})
		if sess != nil && r.Method == http.MethodGet {
			w = &streamWatch{ResponseWriter: w, onOK: sess.attached}
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// Bearer returns the request's bearer token, and whether it carried an
// Authorization header at all (a token of another scheme is "", true).
func Bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", false
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", true
	}
	return strings.TrimSpace(token), true
}

// hostAllowed accepts loopback names and the configured ones.
func (s *Supervisor) hostAllowed(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if isLoopback(host) {
		return true
	}
	return slices.ContainsFunc(s.opts.AllowedHosts, func(a string) bool {
		return a == "*" || strings.EqualFold(a, host) || strings.EqualFold(a, hostport)
	})
}

// originAllowed accepts loopback origins and the configured ones.
func (s *Supervisor) originAllowed(origin string) bool {
	if slices.ContainsFunc(s.opts.AllowedOrigins, func(a string) bool { return a == "*" || strings.EqualFold(a, origin) }) {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	return isLoopback(u.Hostname())
}

// loopback says whether addr (host or host:port) is a loopback address:
// a connection from this machine.
func loopback(addr string) bool {
	ip, err := netip.ParseAddr(hostOf(addr))
	return err == nil && ip.Unmap().IsLoopback()
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// httpError answers with a JSON-RPC-shaped error body, so that MCP clients
// can show the message.
func httpError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"jsonrpc": "2.0",
		"id":      nil,
		"error":   map[string]any{"code": -32600, "message": msg},
	})
}

func quote(s string) string {
	if len(s) > 100 {
		s = s[:100] + "…"
	}
	b, _ := json.Marshal(s)
	return string(b)
}

// streamWatch notices when mcp-go answers a GET with 200: it attaches the
// stream before it writes that header.
type streamWatch struct {
	http.ResponseWriter
	onOK func()
}

func (w *streamWatch) WriteHeader(code int) {
	if code == http.StatusOK {
		w.onOK()
	}
	w.ResponseWriter.WriteHeader(code)
}

// Flush and Unwrap keep streaming working through the wrapper.
func (w *streamWatch) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *streamWatch) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// tokenlessEnd serves a DELETE that carries no token but the id of a live
// session and comes from the client address the session was last seen at
// (remote, see clientAddr), and
// reports whether it did. mcp-go's client (trap 15), and clients like it,
// send their DELETE without the headers that carry the token; refusing
// it would keep the session, and its upstream sessions, open until they
// idle out. Ending a session only takes capability away, and its id is as
// secret as the token it travels with. The session is ended on record
// like any other DELETE.
func (s *Supervisor) tokenlessEnd(w http.ResponseWriter, r *http.Request, remote string, forwardedIn bool, next http.Handler) bool {
	if r.Method != http.MethodDelete {
		return false
	}
	sid := r.Header.Get(server.HeaderKeySessionID)
	sess := s.sessions.get(sid)
	if sess == nil && sid != "" && !forwardedIn {
		// The replica that serves the session judges the DELETE.
		return s.forwardOnly(w, r, sid, remote)
	}
	if sess == nil || sess.key == stdioSessionKey {
		return false
	}
	sess.mu.Lock()
	seen := sess.seenIP
	if seen == "" {
		seen = hostOf(sess.remote)
	}
	sess.mu.Unlock()
	if hostOf(remote) != seen {
		return false
	}
	next.ServeHTTP(w, r)
	return true
}
