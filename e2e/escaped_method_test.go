package e2e

import (
	"strings"
	"testing"

	"github.com/warden-dev/warden"
)

// TestEscapedSubscribeIsRefused: a resources/subscribe whose method is
// written with JSON escapes ("resources\/subscribe", "\u0072esources...")
// means the same to mcp-go, so warden's hook, which skips messages that
// cannot name the method, must still see and refuse it.
func TestEscapedSubscribeIsRefused(t *testing.T) {
	w := routesWarden(t, "")
	c := connect(t, w.URL, readerToken)
	sid := c.GetSessionId()
	for i, method := range []string{`resources\/subscribe`, `\u0072esources/subscribe`} {
		body := `{"jsonrpc":"2.0","id":` + string(rune('1'+i)) + `,"method":"` + method + `","params":{"uri":"kb://files/` + secretPath + `"}}`
		r := postRawAs(t, w.URL, readerToken, body, sid)
		if r.msg.Error == nil || !strings.Contains(r.body, "refused this subscription") && !strings.Contains(r.body, "not available") {
			t.Errorf("%s was not refused: %d %s", method, r.status, r.body)
		}
	}
	if ev := verdictOf(t, w, sid, "resource_subscribe", "secrets"); ev.Verdict != warden.Deny.String() {
		t.Errorf("the escaped subscribe is recorded as %q, want deny", ev.Verdict)
	}
}
