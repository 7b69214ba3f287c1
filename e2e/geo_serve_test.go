package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestGeoServeFromConfig runs `warden serve` with a network section
// (trusted_proxies and geoip.country_db pointing at the npm MMDB data)
// and revalidation.on_change: kill: a session whose trusted proxy moves
// it to another country is ended, and the log names both countries.
func TestGeoServeFromConfig(t *testing.T) {
	db, mmdb := countryDB(t)
	ca, cb := countryOf(t, db, geoAddrA), countryOf(t, db, geoAddrB)
	if ca == cb {
		t.Fatalf("%s and %s are both in %s in this data", geoAddrA, geoAddrB, ca)
	}
	settings := fmt.Sprintf("revalidation: {on_change: kill}\nnetwork:\n  trusted_proxies: [127.0.0.1]\n  geoip: {country_db: %q}\n", mmdb)
	bin, cfg, _ := deskServeConfig(t, settings, "roamer", crashToken)
	p := startServe(t, bin, cfg)
	var xff atomic.Pointer[string]
	xff.Store(ptr(geoAddrA))
	hc := forwardingClient(t, "127.0.0.1", &xff)
	sid := rawSession(t, hc, p.url, crashToken, "agent/1.0")
	list := `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`
	if st, body, _, err := ladderPost(hc, p.url, crashToken, sid, list, map[string]string{"User-Agent": "agent/1.0"}); err != nil || st != 200 {
		t.Fatalf("tools/list from %s: %d %s %v", geoAddrA, st, body, err)
	}
	xff.Store(ptr(geoAddrB))
	if st, body, _, err := ladderPost(hc, p.url, crashToken, sid, list, map[string]string{"User-Agent": "agent/1.0"}); err != nil || st != http.StatusNotFound {
		t.Fatalf("tools/list from %s: %d %s %v, want 404 (killed)", geoAddrB, st, body, err)
	}
	want := "client moved mid-session from " + ca + " (" + geoAddrA + ") to " + cb + " (" + geoAddrB + ")"
	waitFor(t, 10*time.Second, "the log to name the move", func() bool {
		return strings.Contains(p.stderr.String(), want)
	})
}
