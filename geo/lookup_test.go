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
	maxmind := testkit.WriteMMDB(t, "GeoLite2-Country", map[string]mmdbtype.Map{
		"192.0.2.0/24":  {"country": mmdbtype.Map{"iso_code": mmdbtype.String("DE")}},
		"2001:db8::/32": {"country": mmdbtype.Map{"iso_code": mmdbtype.String("JP")}},
	})
	flat := testkit.WriteMMDB(t, "geo-whois-asn-country", map[string]mmdbtype.Map{
		"192.0.2.0/24": {"country_code": mmdbtype.String("FR")},
	})
	asn := testkit.WriteMMDB(t, "GeoLite2-ASN", map[string]mmdbtype.Map{
		"192.0.2.0/25": {"autonomous_system_number": mmdbtype.Uint32(64500), "autonomous_system_organization": mmdbtype.String("Example Net")},
	})
	cases := []struct {
		name, country, asn, addr string
		want                     Place
	}{
		{"maxmind country", maxmind, "", "192.0.2.7", Place{Country: "DE"}},
		{"ipv6", maxmind, "", "2001:db8::1", Place{Country: "JP"}},
		{"mapped ipv4", maxmind, "", "::ffff:192.0.2.7", Place{Country: "DE"}},
		{"flat country", flat, "", "192.0.2.7", Place{Country: "FR"}},
		{"asn only", "", asn, "192.0.2.7", Place{ASN: 64500, Org: "Example Net"}},
		{"both", maxmind, asn, "192.0.2.7", Place{Country: "DE", ASN: 64500, Org: "Example Net"}},
		{"outside the asn network", maxmind, asn, "192.0.2.200", Place{Country: "DE"}},
		{"unknown address", maxmind, asn, "198.51.100.1", Place{}},
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
