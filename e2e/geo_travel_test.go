package e2e

import (
	"bytes"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/warden-dev/warden"
	"github.com/warden-dev/warden/store"
)

// TestImpossibleTravel: an agent's new session in another country than
// its last one, minutes later, is an impossible_travel signal on the new
// session, with both places as evidence.
func TestImpossibleTravel(t *testing.T) {
	l, db := geoLadder(t, warden.Flag)
	if countryOf(t, db, geoAddrA) == countryOf(t, db, geoAddrB) {
		t.Fatalf("%s and %s are in one country in this data", geoAddrA, geoAddrB)
	}
	var xff atomic.Pointer[string]
	xff.Store(ptr(geoAddrA))
	hc := forwardingClient(t, "127.0.0.1", &xff)
	rawSession(t, hc, l.URL, opsToken, "agent/1.0")
	xff.Store(ptr(geoAddrB))
	second := rawSession(t, hc, l.URL, opsToken, "agent/1.0")
	evs, _ := l.timeline(t, second)
	var found string
	for _, e := range evs {
		if e.Kind == store.KindSignal && bytes.Contains(e.Data, []byte(`"impossible_travel"`)) {
			found = strings.Join(e.Reasons, " ")
		}
	}
	if !strings.Contains(found, geoAddrA) || !strings.Contains(found, geoAddrB) {
		t.Fatalf("no impossible_travel signal naming both addresses on the second session: %q", found)
	}
}
