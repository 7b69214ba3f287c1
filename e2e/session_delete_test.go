package e2e

import (
	"net/http"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/tools"
)

// TestTokenlessDeleteEndsOnlyFromTheSessionsAddress: a DELETE without a
// token (what mcp-go's client sends on Close) ends a live session when it
// comes from the address the session is seen at, and is refused from any
// other address or for an id that is not live.
func TestTokenlessDeleteEndsOnlyFromTheSessionsAddress(t *testing.T) {
	up := newCounterUpstream(t, "http", "")
	w := startWarden(t, []tools.Spec{up.spec}, sessionAgents)
	sid := rawSession(t, nil, w.URL, agentTokenA, "raw/1")

	from := func(ip string) *http.Client { return clientFrom(t, ip) }
	del := func(hc *http.Client, id string) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodDelete, w.URL, http.NoBody)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set(server.HeaderKeySessionID, id)
		req.Header.Set(mcp.HeaderProtocolVersion, "2025-11-25")
		res, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	live := func() bool {
		st, _, _, err := ladderPost(nil, w.URL, agentTokenA, sid, toolsList, nil)
		return err == nil && st == http.StatusOK
	}

	if st := del(from("127.0.0.2"), sid); st != http.StatusUnauthorized {
		t.Fatalf("tokenless DELETE from another address: %d, want 401", st)
	}
	if st := del(from("127.0.0.1"), "0123456789abcdef0123456789abcdef"); st != http.StatusUnauthorized {
		t.Fatalf("tokenless DELETE of an id that is not live: %d, want 401", st)
	}
	if !live() {
		t.Fatal("the session ended on a refused DELETE")
	}
	if st := del(from("127.0.0.1"), sid); st != http.StatusOK {
		t.Fatalf("tokenless DELETE from the session's address: %d, want 200", st)
	}
	if live() {
		t.Fatal("the session is still live after its DELETE")
	}
	rec, err := w.Store.Session(t.Context(), sid)
	if err != nil || rec.State != store.StateEnded {
		t.Fatalf("session on record: %+v %v, want ended", rec, err)
	}
}
