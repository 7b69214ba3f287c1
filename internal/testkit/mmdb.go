package testkit

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// WriteMMDB writes a MaxMind-format database of type dbType holding one
// record for each network (CIDR; reserved ranges allowed, so that tests
// can use documentation addresses) and returns its path.
func WriteMMDB(t testing.TB, dbType string, records map[string]mmdbtype.Map) string {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: dbType, IncludeReservedNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	for cidr, rec := range records {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		if err := tree.Insert(n, rec); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), dbType+".mmdb")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	return path
}

// GeoFixture writes a country database in MaxMind's layout (192.0.2.0/24
// in DE, 198.51.100.0/24 in FR, 2001:db8::/32 in JP) and an ASN database
// (192.0.2.0/25 is AS64500 "One", 192.0.2.128/25 AS64501 "Two"), and
// returns their paths. The addresses are documentation ranges: data,
// never contacted.
func GeoFixture(t testing.TB) (country, asn string) {
	t.Helper()
	iso := func(c string) mmdbtype.Map {
		return mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String(c)}}
	}
	as := func(n uint32, org string) mmdbtype.Map {
		return mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(n), "autonomous_system_organization": mmdbtype.String(org)}
	}
	country = WriteMMDB(t, "GeoLite2-Country", map[string]mmdbtype.Map{"192.0.2.0/24": iso("DE"), "198.51.100.0/24": iso("FR"), "2001:db8::/32": iso("JP")})
	asn = WriteMMDB(t, "GeoLite2-ASN", map[string]mmdbtype.Map{"192.0.2.0/25": as(64500, "One"), "192.0.2.128/25": as(64501, "Two")})
	return country, asn
}
