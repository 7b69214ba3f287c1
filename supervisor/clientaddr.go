package supervisor

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/warden-dev/warden/geo"
)

// Network says which peers may tell warden where a request really came
// from, and how to locate that address.
type Network struct {
	// TrustedProxies are the peers whose X-Forwarded-For or Forwarded
	// header is believed.
	TrustedProxies []netip.Prefix
	// Geo locates client addresses; nil for none.
	Geo *geo.DB
	// FingerprintHeader names the header in which a trusted proxy that
	// terminates TLS passes the client's TLS fingerprint (JA3, JA4);
	// empty for none. warden itself serves no TLS.
	FingerprintHeader string
}

// fingerprint is the client's TLS fingerprint as a trusted proxy passes
// it, "" when there is none to believe.
func (n Network) fingerprint(r *http.Request) string {
	if n.FingerprintHeader == "" {
		return ""
	}
	p, err := netip.ParseAddr(hostOf(r.RemoteAddr))
	if err != nil || !isTrusted(p, n.TrustedProxies) {
		return ""
	}
	fp := strings.TrimSpace(r.Header.Get(n.FingerprintHeader))
	if len(fp) > 256 {
		fp = fp[:256]
	}
	return fp
}

// maxHops bounds how many forwarding hops are read; a longer chain is
// malformed rather than a cost.
const maxHops = 64

// clientAddr returns where a request came from: the socket peer, or, when
// the peer is a trusted proxy, the right-most address in its forwarding
// header that is not itself a trusted proxy (the left-most when all are).
// Addresses left of that one were written by the client and prove
// nothing. A trusted proxy's malformed header yields the peer and an
// error saying why, so that a bad header never makes up an address.
func clientAddr(peer string, h http.Header, trusted []netip.Prefix) (string, error) {
	p, err := netip.ParseAddr(hostOf(peer))
	if err != nil || !isTrusted(p, trusted) {
		return peer, nil
	}
	xff, fwd := h.Values("X-Forwarded-For"), h.Values("Forwarded")
	if len(xff) == 0 && len(fwd) == 0 {
		return peer, nil
	}
	var chain []netip.Addr
	switch {
	case len(fwd) == 0:
		chain, err = parseXFF(strings.Join(xff, ","))
	case len(xff) == 0:
		chain, err = parseForwarded(strings.Join(fwd, ","))
	default:
		// A client behind a proxy that writes one header may send the
		// other; only agreement between the two is believed.
		var other []netip.Addr
		if chain, err = parseForwarded(strings.Join(fwd, ",")); err == nil {
			if other, err = parseXFF(strings.Join(xff, ",")); err == nil && !slices.Equal(chain, other) {
				err = errors.New("Forwarded and X-Forwarded-For disagree")
			}
		}
	}
	if err != nil {
		return peer, fmt.Errorf("forwarding header from trusted proxy %s: %w", p, err)
	}
	for i := len(chain) - 1; i > 0; i-- {
		if !isTrusted(chain[i], trusted) {
			return chain[i].String(), nil
		}
	}
	return chain[0].String(), nil
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	a = a.Unmap()
	return slices.ContainsFunc(trusted, func(p netip.Prefix) bool { return p.Contains(a) })
}

// parseXFF reads X-Forwarded-For: comma-separated addresses, each maybe
// bracketed or with a port, as some proxies write them.
func parseXFF(v string) ([]netip.Addr, error) {
	parts := strings.Split(v, ",")
	if len(parts) > maxHops {
		return nil, fmt.Errorf("more than %d hops", maxHops)
	}
	out := make([]netip.Addr, 0, len(parts))
	for _, s := range parts {
		a, err := parseNode(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("X-Forwarded-For: %w", err)
		}
		out = append(out, a)
	}
	return out, nil
}

// parseForwarded reads the for= parameter of each element of a Forwarded
// header (RFC 7239). An element without one, or whose node is "unknown"
// or obfuscated, leaves the chain unknown: malformed for this purpose.
func parseForwarded(v string) ([]netip.Addr, error) {
	elems, err := splitQuoted(v, ',')
	if err != nil {
		return nil, fmt.Errorf("Forwarded: %w", err)
	}
	if len(elems) > maxHops {
		return nil, fmt.Errorf("more than %d hops", maxHops)
	}
	out := make([]netip.Addr, 0, len(elems))
	for _, e := range elems {
		pairs, err := splitQuoted(e, ';')
		if err != nil {
			return nil, fmt.Errorf("Forwarded: %w", err)
		}
		var node string
		var found bool
		for _, pair := range pairs {
			k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
			if !ok {
				return nil, fmt.Errorf("Forwarded: %q is not name=value", pair)
			}
			if strings.EqualFold(k, "for") {
				if found {
					return nil, errors.New("Forwarded: an element has two for= parameters")
				}
				if node, err = unquote(val); err != nil {
					return nil, fmt.Errorf("Forwarded: %w", err)
				}
				found = true
			}
		}
		if !found {
			return nil, errors.New("Forwarded: an element has no for= parameter")
		}
		a, err := parseNode(node)
		if err != nil {
			return nil, fmt.Errorf("Forwarded: %w", err)
		}
		out = append(out, a)
	}
	return out, nil
}

// parseNode reads an address with or without brackets and port.
func parseNode(s string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return a.Unmap(), nil
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil && a.Is6() && a.Zone() == "" {
			return a.Unmap(), nil
		}
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		if a, err := netip.ParseAddr(host); err == nil && a.Zone() == "" && (a.Is4() || strings.HasPrefix(s, "[")) {
			return a.Unmap(), nil
		}
	}
	return netip.Addr{}, fmt.Errorf("%q is not an IP address", s)
}

// splitQuoted splits s at sep outside double-quoted strings.
func splitQuoted(s string, sep byte) ([]string, error) {
	var out []string
	start, inQuote := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case inQuote && c == '\\':
			i++
		case c == '"':
			inQuote = !inQuote
		case !inQuote && c == sep:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	if inQuote {
		return nil, errors.New("unterminated quoted string")
	}
	return append(out, s[start:]), nil
}

// unquote reads a token or a quoted-string (RFC 7230).
func unquote(v string) (string, error) {
	v = strings.TrimSpace(v)
	if !strings.HasPrefix(v, `"`) {
		if strings.ContainsAny(v, "\" \t") {
			return "", fmt.Errorf("%q is not a token", v)
		}
		return v, nil
	}
	if len(v) < 2 || !strings.HasSuffix(v, `"`) {
		return "", fmt.Errorf("%q is not a quoted string", v)
	}
	var b strings.Builder
	for i := 1; i < len(v)-1; i++ {
		c := v[i]
		if c == '\\' {
			if i+1 >= len(v)-1 {
				return "", fmt.Errorf("%q ends in an escape", v)
			}
			i++
			c = v[i]
		} else if c == '"' {
			return "", fmt.Errorf("%q has a stray quote", v)
		}
		b.WriteByte(c)
	}
	return b.String(), nil
}
