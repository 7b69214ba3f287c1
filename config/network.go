package config

import (
	"errors"
	"net/netip"
	"os"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// Network says where requests really come from and where that is.
type Network struct {
	// TrustedProxies are the peers whose X-Forwarded-For or Forwarded
	// header is believed; a request from any other peer is taken to come
	// from its socket address, whatever it claims.
	TrustedProxies []netip.Prefix
	// GeoIP locates client addresses; nil for none.
	GeoIP *GeoIP
	// FingerprintHeader names the header in which a trusted proxy that
	// terminates TLS passes the client's TLS fingerprint (JA3, JA4).
	FingerprintHeader string
}

// GeoIP names MaxMind-format (MMDB) databases. Either may be empty; at
// least one is set.
type GeoIP struct {
	// CountryDB gives each address's country (country.iso_code).
	CountryDB string
	// ASNDB gives each address's autonomous system number and owner.
	ASNDB string
}

// network reads the network section.
func (d *decoder) network(n ast.Node) Network {
	var nw Network
	fields, _ := d.mapping(n, "network", "trusted_proxies", "geoip", "fingerprint_header")
	for _, f := range fields {
		if f.val == nil {
			continue
		}
		switch f.name {
		case "trusted_proxies":
			nw.TrustedProxies = d.proxies(f.val)
		case "geoip":
			nw.GeoIP = d.geoip(f.val)
		case "fingerprint_header":
			if h, ok := d.str(f.val, "network.fingerprint_header"); ok {
				if h == "" || strings.ContainsAny(h, " \t:()<>@,;\\\"/[]?={}") {
					d.errorf(f.val, "network.fingerprint_header %q is not a header name", h)
				}
				nw.FingerprintHeader = h
			}
		}
	}
	return nw
}

// proxies reads network.trusted_proxies: addresses or CIDR prefixes.
func (d *decoder) proxies(n ast.Node) []netip.Prefix {
	vals, nodes, _ := d.strList(n, "network.trusted_proxies")
	out := make([]netip.Prefix, 0, len(vals))
	for i, v := range vals {
		p, err := parseProxy(v)
		if err != nil {
			d.errorf(nodes[i], "network.trusted_proxies entry %q is not an IP address or CIDR prefix (e.g. 10.0.0.0/8)", v)
			continue
		}
		out = append(out, p)
	}
	return out
}

// parseProxy reads an address (a prefix of its full length) or a prefix;
// a prefix with host bits set is refused, since it probably means a
// different network than the one written.
func parseProxy(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if p.Masked() != p {
		return netip.Prefix{}, errors.New("host bits set")
	}
	return p, nil
}

// geoip reads network.geoip; each database must exist when warden starts.
func (d *decoder) geoip(n ast.Node) *GeoIP {
	g := &GeoIP{}
	fields, _ := d.mapping(n, "network.geoip", "country_db", "asn_db")
	for _, f := range fields {
		if f.val == nil {
			continue
		}
		what := "network.geoip." + f.name
		s, ok := d.nonEmpty(f.val, what)
		if !ok {
			continue
		}
		p := d.path(s)
		if st, err := os.Stat(p); err != nil || st.IsDir() {
			d.errorf(f.val, "%s %q is not a readable MMDB file", what, p)
		}
		switch f.name {
		case "country_db":
			g.CountryDB = p
		case "asn_db":
			g.ASNDB = p
		}
	}
	if g.CountryDB == "" && g.ASNDB == "" {
		d.errorf(n, "network.geoip names no database; set country_db, asn_db or both")
		return nil
	}
	return g
}
