package eval

import (
	"errors"
	"fmt"
	neturl "net/url"
	"strings"
	"unicode"

	whatwg "github.com/nlnwa/whatwg-url/url"
	"golang.org/x/net/idna"
)

// URLs in guards are read the way the clients that will act on them read
// them. A browser or Node's fetch parses by the WHATWG URL standard; Go's
// net/http, curl and most servers by RFC 3986. The two disagree on inputs
// an attacker can choose (a backslash, userinfo, a scheme without "//",
// numeric hosts), and a guard that reads one host while the client goes to
// another is a way around the policy. So a URL is accepted only when both
// parsers find the same host and nothing in it reads two ways; otherwise
// the helper fails, and a failing helper fails the guard closed.

// errURL is wrapped by every refusal of parseHost.
var errURL = errors.New("not an unambiguous URL")

// specialSchemes are the WHATWG schemes that have a host a client fetches.
var specialSchemes = map[string]bool{"http": true, "https": true, "ws": true, "wss": true, "ftp": true}

// parseHost returns the host that every parser reads in raw, lower-cased
// and in ASCII (IDNA), without port. A bare host or host/path (as free
// text writes them, "www.example.com/x") is read as https.
func parseHost(raw string) (string, error) {
	s := trimC0(raw)
	refuse := func(why string) (string, error) { return "", fmt.Errorf("%w: %q: %s", errURL, clip(raw), why) }
	if s == "" {
		return refuse("empty")
	}
	if strings.ContainsRune(s, '\\') {
		return refuse("a backslash is a slash to browsers and not to other clients")
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return refuse("control or space characters are dropped by browsers and kept by other clients")
		}
	}
	if scheme, rest, ok := cutScheme(s); ok {
		if !specialSchemes[strings.ToLower(scheme)] {
			return refuse(fmt.Sprintf("scheme %q has no host that a client fetches", scheme))
		}
		if !strings.HasPrefix(rest, "//") {
			return refuse("no \"//\" after the scheme: browsers still find a host, other parsers do not")
		}
	} else {
		s = "https://" + s
	}
	w, err := whatwg.Parse(s)
	if err != nil {
		return refuse(err.Error())
	}
	g, err := neturl.Parse(s)
	if err != nil {
		return refuse(err.Error())
	}
	if g.User != nil || w.Username() != "" || w.Password() != "" {
		return refuse("userinfo (user@host) hides the host from readers")
	}
	wh := strings.TrimSuffix(strings.TrimPrefix(w.Hostname(), "["), "]")
	gh := strings.ToLower(g.Hostname())
	if gh != "" && !isASCII(gh) {
		if gh, err = idna.Lookup.ToASCII(gh); err != nil {
			return refuse(err.Error())
		}
	}
	if wh == "" || wh != gh {
		return refuse(fmt.Sprintf("browsers read host %q, other clients %q", wh, gh))
	}
	return wh, nil
}

// trimC0 strips leading and trailing C0 controls and spaces, as the
// WHATWG parser does; anything else that is a space or a control is
// refused later.
func trimC0(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return r <= 0x20 })
}

// cutScheme splits "scheme:rest" when s starts with a scheme. A name with
// a dot before the colon ("example.com:8080") is a host and port, not a
// scheme.
func cutScheme(s string) (scheme, rest string, ok bool) {
	i := strings.IndexByte(s, ':')
	if i <= 0 || strings.ContainsAny(s[:i], "/?#.") {
		return "", "", false
	}
	for k, r := range s[:i] {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || k > 0 && (r >= '0' && r <= '9' || r == '+' || r == '-')) {
			return "", "", false
		}
	}
	return s[:i], s[i+1:], true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// clip shortens a value quoted in an error.
func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}
