package geo

import (
	"net/netip"
	"testing"

	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/warden-dev/warden/internal/testkit"
)

// TestLookup reads MaxMind's country layout (country.iso_code), the flat
// one (country_code) and the ASN layout, in any combination of databases;
// addresses are data here, never contacted.
func TestLookup(t *testing.T) {
	maxmind, asn := testkit.GeoFixture(t)
	flat := testkit.WriteMMDB(t, "geo-whois-asn-country", map[string]mmdbtype.Map{
		"192.0.2.0/24": {"country_code": mmdbtype.String("FR")},
	})
	cases := []struct {
		name, country, asn, addr string
		want                     Place
	}{
		{"maxmind country", maxmind, "", "192.0.2.7", Place{Country: "DE"}},
		{"ipv6", maxmind, "", "2001:db8::1", Place{Country: "JP"}},
		{"mapped ipv4", maxmind, "", "::ffff:192.0.2.7", Place{Country: "DE"}},
		{"flat country", flat, "", "192.0.2.7", Place{Country: "FR"}},
		{"asn only", "", asn, "192.0.2.7", Place{ASN: 64500, Org: "One"}},
		{"both", maxmind, asn, "192.0.2.7", Place{Country: "DE", ASN: 64500, Org: "One"}},
		{"other asn network", maxmind, asn, "192.0.2.200", Place{Country: "DE", ASN: 64501, Org: "Two"}},
		{"country without asn", maxmind, asn, "198.51.100.1", Place{Country: "FR"}},
		{"unknown address", maxmind, asn, "203.0.113.1", Place{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db, err := Open(c.country, c.asn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = db.Close() })
			got, err := db.Lookup(netip.MustParseAddr(c.addr))
			if err != nil || got != c.want {
				t.Errorf("Lookup(%s) = %+v, %v; want %+v", c.addr, got, err, c.want)
			}
		})
	}
}
