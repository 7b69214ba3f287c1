package supervisor

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/warden-dev/warden/store"
)

// Decision links: a URL per decision, carried in the approval webhook, that
// an approver opens to decide without logging in. The token is
//
//	base64url(<approval id>|<decision>|<expiry, unix seconds>) "." base64url(HMAC-SHA256(key, payload))
//
// Decision and expiry never contain "|", so the payload splits at its last
// two and an id may contain anything. The key is derived from the
// configured secret for this use alone, so a webhook signature made with
// the same secret can never pass as a link. A link is single use because
// the decision it makes is: store.DecideApproval takes one decision per
// approval, and a second use of any link gets store.ErrDecided.

// maxLinkToken bounds what verify decodes.
const maxLinkToken = 2048

// minLinkSecret is the shortest secret accepted: 128 bits.
const minLinkSecret = 16

var (
	errLinkMalformed = errors.New("malformed decision link")
	errLinkForged    = errors.New("decision link signature does not match")
	errLinkExpired   = errors.New("decision link expired")
)

// linkSigner makes and checks decision-link tokens.
type linkSigner struct {
	key []byte
}

// newLinkSigner derives the link key from secret, which must be at least
// 16 bytes.
func newLinkSigner(secret []byte) (*linkSigner, error) {
	if len(secret) < minLinkSecret {
		return nil, fmt.Errorf("decision links: secret is %d bytes; want at least %d", len(secret), minLinkSecret)
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("warden decision link v1"))
	return &linkSigner{key: m.Sum(nil)}, nil
}

func (l *linkSigner) mac(payload []byte) []byte {
	m := hmac.New(sha256.New, l.key)
	m.Write(payload)
	return m.Sum(nil)
}

// sign returns the token that decides approvalID with decision until
// expires (to the second, rounded down).
func (l *linkSigner) sign(approvalID, decision string, expires time.Time) string {
	payload := []byte(approvalID + "|" + decision + "|" + strconv.FormatInt(expires.Unix(), 10))
	enc := base64.RawURLEncoding
	return enc.EncodeToString(payload) + "." + enc.EncodeToString(l.mac(payload))
}

// verify checks token and returns what it decides. It refuses malformed
// tokens, a signature that does not match (compared in constant time) and
// a token whose expiry is not after now.
func (l *linkSigner) verify(token string, now time.Time) (approvalID, decision string, err error) {
	if token == "" {
		return "", "", fmt.Errorf("%w: empty token", errLinkMalformed)
	}
	if len(token) > maxLinkToken {
		return "", "", fmt.Errorf("%w: %d bytes, more than %d", errLinkMalformed, len(token), maxLinkToken)
	}
	p64, m64, ok := strings.Cut(token, ".")
	if !ok {
		return "", "", fmt.Errorf("%w: no signature part", errLinkMalformed)
	}
	// The decoder skips line breaks; a token has one spelling only.
	if !isBase64URL(p64) || !isBase64URL(m64) {
		return "", "", fmt.Errorf("%w: characters outside base64url", errLinkMalformed)
	}
	enc := base64.RawURLEncoding.Strict()
	payload, err := enc.DecodeString(p64)
	if err != nil {
		return "", "", fmt.Errorf("%w: payload is not base64url: %w", errLinkMalformed, err)
	}
	sig, err := enc.DecodeString(m64)
	if err != nil {
		return "", "", fmt.Errorf("%w: signature is not base64url: %w", errLinkMalformed, err)
	}
	if len(sig) != sha256.Size {
		return "", "", fmt.Errorf("%w: signature is %d bytes, want %d", errLinkMalformed, len(sig), sha256.Size)
	}
	if !hmac.Equal(sig, l.mac(payload)) {
		return "", "", errLinkForged
	}
	// Authentic from here on: what fails now is a bug of ours or an old
	// format, and is reported as malformed.
	rest, exp, ok1 := cutLast(string(payload), "|")
	id, dec, ok2 := cutLast(rest, "|")
	if !ok1 || !ok2 || id == "" {
		return "", "", fmt.Errorf("%w: payload is not id|decision|expiry", errLinkMalformed)
	}
	sec, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		return "", "", fmt.Errorf("%w: expiry %q: %w", errLinkMalformed, exp, err)
	}
	switch dec {
	case store.DecisionOnce, store.DecisionSession, store.DecisionDeny, store.DecisionDenyKill:
	default:
		return "", "", fmt.Errorf("%w: unknown decision %q", errLinkMalformed, dec)
	}
	if expires := time.Unix(sec, 0); !now.Before(expires) {
		return "", "", fmt.Errorf("%w at %s", errLinkExpired, expires.UTC().Format(time.RFC3339))
	}
	return id, dec, nil
}

// links returns one decision link per decision for the approval, each
// base with the token in its "token" query parameter, keyed by decision
// as notify.Message.Links wants them.
func (l *linkSigner) links(base, approvalID string, expires time.Time) (map[string]string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("decision links: base URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("decision links: base URL %q: want http:// or https:// with a host", base)
	}
	out := make(map[string]string, 4)
	for _, d := range []string{store.DecisionOnce, store.DecisionSession, store.DecisionDeny, store.DecisionDenyKill} {
		q := u.Query()
		q.Set("token", l.sign(approvalID, d, expires))
		v := *u
		v.RawQuery = q.Encode()
		out[d] = v.String()
	}
	return out, nil
}

// cutLast is strings.Cut at the last sep.
func cutLast(s, sep string) (before, after string, ok bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
