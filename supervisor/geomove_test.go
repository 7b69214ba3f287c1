package supervisor

import (
	"io"
	"testing"

	"github.com/charmbracelet/log"

	"github.com/warden-dev/warden/geo"
	"github.com/warden-dev/warden/internal/testkit"
)

// TestGeoMove: a move to another country or another autonomous system is
// a move; staying in both, or an address geolocation cannot read, is not
// (the address change is a signal all the same). Addresses are data.
func TestGeoMove(t *testing.T) {
	country, asn := testkit.GeoFixture(t)
	db, err := geo.Open(country, asn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	s := &Supervisor{opts: Options{Network: Network{Geo: db}}, log: log.New(io.Discard)}
	cases := []struct {
		name, from, to, want string
	}{
		{"same network", "192.0.2.1", "192.0.2.2", ""},
		{"other country", "192.0.2.1", "198.51.100.1", "client moved mid-session from DE, AS64500 One (192.0.2.1) to FR (198.51.100.1)"},
		{"other ASN, same country", "192.0.2.1", "192.0.2.200", "client moved mid-session from DE, AS64500 One (192.0.2.1) to DE, AS64501 Two (192.0.2.200)"},
		{"into unknown", "198.51.100.1", "203.0.113.1", "client moved mid-session from FR (198.51.100.1) to an unknown country (203.0.113.1)"},
		{"not an address", "stdio", "192.0.2.1", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := s.geoMove(c.from, c.to)
			got := ""
			if m != nil {
				got = m.String()
			}
			if got != c.want {
				t.Errorf("geoMove(%s, %s) = %q; want %q", c.from, c.to, got, c.want)
			}
		})
	}
	if m := (&Supervisor{log: log.New(io.Discard)}).geoMove("192.0.2.1", "198.51.100.1"); m != nil {
		t.Errorf("without geolocation, geoMove = %v", m)
	}
}
