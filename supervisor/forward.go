package supervisor

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	stdlog "log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/log"
)

// forwardHeader marks a request that one replica forwarded to the replica
// that serves its session. It carries the forwarding replica's name, the
// time, a random nonce, the agent's address and TLS fingerprint as the
// forwarding replica derived them (forwardClaim), and an HMAC of these
// with the request's method and session id under the cluster's secret
// (kept in the database), and of the request's body, so that a captured
// header does not vouch for another request of the session sent within its
// minute. The replica it reaches does not forward it again (no loops),
// takes the agent's address and fingerprint from it (never from the
// agent's own headers, which the forwarder passes on and which the replica
// it reaches, trusting its peer, would otherwise believe), and serves it
// once (seenForwards): the nonce tells apart two identical requests that
// the agent really sent within a second.
//
// An agent may send the header itself: without the secret it does not
// verify, and it is then removed and ignored, so the request is routed
// like any other. A signature (rather than trusting the sender's
// address) keeps that true when agents and replicas share a network, or
// a machine.
const forwardHeader = "Warden-Forwarded"

// forwardSkew bounds how old (or early, between clocks) a forwarded
// request's signature may be.
const forwardSkew = time.Minute

// dialTimeout bounds connecting to the replica that serves a session;
// one that cannot be reached is taken to be dead.
const dialTimeout = 2 * time.Second

// forwarder forwards requests to the replica that serves their session.
type forwarder struct {
	self      string // this replica's advertised URL: its name in forwards
	secret    []byte
	transport *http.Transport
	log       *log.Logger
	errorLog  *stdlog.Logger // the proxy's own complaints (a stream cut mid-way), in warden's log
	seen      *seenForwards  // the forwards this replica received and verified
}

func newForwarder(self string, secret []byte, logger *log.Logger) *forwarder {
	transport := &http.Transport{
		Proxy:               nil, // replicas reach one another directly, whatever the environment says
		DialContext:         (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 64, // the default 2 churns connections (trap 11)
		IdleConnTimeout:     90 * time.Second,
	}
	return &forwarder{self: self, secret: secret, transport: transport, log: logger,
		errorLog: logger.StandardLog(log.StandardLogOptions{ForceLevel: log.WarnLevel}), seen: newSeenForwards(maxSeenForwards)}
}

// forwardClaim is what a forwarding replica vouches for about the agent:
// its address and TLS fingerprint, derived under that replica's own
// trusted-proxy rules ("" for none).
type forwardClaim struct {
	remote, fingerprint string
}

// sign returns the forwardHeader value for a request of sid by method,
// with body, from the agent that claim describes.
func (f *forwarder) sign(method, sid string, body []byte, claim forwardClaim, at time.Time) string {
	remote, fp := claim.remote, "-"
	if remote == "" {
		remote = "-"
	}
	if claim.fingerprint != "" {
		fp = base64.RawURLEncoding.EncodeToString([]byte(claim.fingerprint))
	}
	ts := strconv.FormatInt(at.Unix(), 10)
	var n [16]byte
	_, _ = rand.Read(n[:]) // never fails (crypto/rand)
	nonce := base64.RawURLEncoding.EncodeToString(n[:])
	return strings.Join([]string{f.self, ts, nonce, remote, fp, f.mac(f.self, ts, nonce, remote, fp, method, sid, bodyDigest(body))}, " ")
}

// bodyDigest names a request's body in a forwardHeader's signature.
func bodyDigest(body []byte) string {
	d := sha256.Sum256(body)
	return base64.RawURLEncoding.EncodeToString(d[:])
}

// verify checks a forwardHeader value for a request of sid by method,
// with body, and returns what it claims about the agent and its
// signature (what makes it single-use).
func (f *forwarder) verify(value, method, sid string, body []byte, now time.Time) (forwardClaim, string, error) {
	var none forwardClaim
	fields := strings.Split(value, " ")
	if len(fields) != 6 {
		return none, "", errors.New("malformed")
	}
	from, ts, nonce, remote, fp, sig := fields[0], fields[1], fields[2], fields[3], fields[4], fields[5]
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return none, "", errors.New("malformed time")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > forwardSkew || d < -forwardSkew {
		return none, "", fmt.Errorf("signed %s from now", d.Round(time.Second))
	}
	if !hmac.Equal([]byte(sig), []byte(f.mac(from, ts, nonce, remote, fp, method, sid, bodyDigest(body)))) {
		return none, "", errors.New("the signature does not verify")
	}
	claim := forwardClaim{remote: remote}
	if remote == "-" {
		claim.remote = ""
	}
	if fp != "-" {
		b, err := base64.RawURLEncoding.DecodeString(fp)
		if err != nil {
			return none, "", errors.New("malformed fingerprint")
		}
		claim.fingerprint = string(b)
	}
	return claim, sig, nil
}

func (f *forwarder) mac(parts ...string) string {
	m := hmac.New(sha256.New, f.secret)
	m.Write([]byte("warden-forwarded/2"))
	for _, p := range parts {
		m.Write([]byte{0})
		m.Write([]byte(p))
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// forward proxies r, a request of session sid from the agent that claim
// describes (with body, read already: nil for none), to
// the replica at target, streaming the answer (event streams flush as
// they are written), with the request's own headers: the replica there
// authenticates the agent as usual. It reports false, having written
// nothing, when target cannot be connected to: its replica is taken to be
// dead. Any other failure is answered here (502).
func (f *forwarder) forward(w http.ResponseWriter, r *http.Request, target, sid string, claim forwardClaim, body []byte) bool {
	u, err := url.Parse(target)
	if err != nil {
		httpError(w, http.StatusBadGateway, "bad gateway: the warden replica serving this session has an invalid address")
		return true
	}
	reached := true
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host // the agent's, as every replica checks it
			// Rewrite drops these; the request goes on as the agent sent it.
			for _, h := range []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"} {
				if v, ok := pr.In.Header[h]; ok {
					pr.Out.Header[h] = v
				}
			}
			pr.Out.Header.Set(forwardHeader, f.sign(pr.In.Method, sid, body, claim, time.Now()))
		},
		Transport:     f.transport,
		FlushInterval: -1,
		ErrorLog:      f.errorLog,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			var op *net.OpError
			if errors.As(err, &op) && op.Op == "dial" {
				reached = false
				return
			}
			if r.Context().Err() != nil {
				return // the agent went away
			}
			f.log.Warn("a request forwarded to the replica serving its session failed", "session", sid, "replica", target, "err", err)
			httpError(w, http.StatusBadGateway, "bad gateway: the warden replica serving this session failed to answer")
		},
	}
	proxy.ServeHTTP(w, r)
	return reached
}
