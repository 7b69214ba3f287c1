package config

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestParseNetwork reads trusted proxies (addresses become full-length
// prefixes) and the geolocation databases.
func TestParseNetwork(t *testing.T) {
	db := filepath.Join(t.TempDir(), "c.mmdb")
	if err := os.WriteFile(db, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, extra string
		proxies     []string
		country     string
		asn         string
	}{
		{"none", "", nil, "", ""},
		{"address and prefix", "network: {trusted_proxies: [127.0.0.1, '10.0.0.0/8', '::1', 'fd00::/8']}\n",
			[]string{"127.0.0.1/32", "10.0.0.0/8", "::1/128", "fd00::/8"}, "", ""},
		{"mapped address unmapped", "network: {trusted_proxies: ['::ffff:127.0.0.1']}\n", []string{"127.0.0.1/32"}, "", ""},
		{"country only", "network: {geoip: {country_db: " + db + "}}\n", nil, db, ""},
		{"both", "network: {geoip: {country_db: " + db + ", asn_db: " + db + "}}\n", nil, db, db},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Parse("w.yaml", fix(minimal+c.extra), noEnv)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range cfg.Network.TrustedProxies {
				got = append(got, p.String())
			}
			if !slices.Equal(got, c.proxies) {
				t.Errorf("trusted_proxies = %v; want %v", got, c.proxies)
			}
			g := cfg.Network.GeoIP
			switch {
			case c.country == "" && c.asn == "" && g != nil:
				t.Errorf("geoip = %+v; want none", g)
			case (c.country != "" || c.asn != "") && (g == nil || g.CountryDB != c.country || g.ASNDB != c.asn):
				t.Errorf("geoip = %+v; want country %q asn %q", g, c.country, c.asn)
			}
		})
	}
}

// TestParseNetworkErrors: each mistake is reported where it was written.
func TestParseNetworkErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none.mmdb")
	cases := []struct {
		name, src string
		wants     []want
	}{
		{"not an address", minimal + "network: {trusted_proxies: [proxy.local]}\n", []want{{7, 29, `network.trusted_proxies entry "proxy.local" is not an IP address or CIDR prefix`}}},
		{"bad prefix length", minimal + "network: {trusted_proxies: ['10.0.0.0/33']}\n", []want{{7, 29, `"10.0.0.0/33" is not an IP address`}}},
		{"host bits set", minimal + "network: {trusted_proxies: ['10.0.0.1/8']}\n", []want{{7, 29, `"10.0.0.1/8" is not an IP address`}}},
		{"not a list", minimal + "network: {trusted_proxies: 127.0.0.1}\n", []want{{7, 28, "network.trusted_proxies"}}},
		{"missing db", minimal + "network: {geoip: {country_db: " + missing + "}}\n", []want{{7, 31, "network.geoip.country_db " + `"` + missing + `" is not a readable MMDB file`}}},
		{"empty geoip", minimal + "network: {geoip: {}}\n", []want{{7, 18, "network.geoip names no database"}}},
		{"typo", minimal + "network: {trusted_proxy: [127.0.0.1]}\n", []want{{7, 11, `did you mean "trusted_proxies"?`}}},
		{"geoip typo", minimal + "network: {geoip: {country: x}}\n", []want{{7, 18, "names no database"}, {7, 19, `did you mean "country_db"?`}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mustFail(t, fix(c.src), noEnv, c.wants...)
		})
	}
}
