package main

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/store"
)

// TestAdminAPIRecordsNamedTokens: a named admin token (admin.tokens) is
// accepted by the admin API, and what its holder does is recorded under
// its name whatever the body's "by" says; a token that is neither named
// nor the shared one is refused.
func TestAdminAPIRecordsNamedTokens(t *testing.T) {
	at := serveConsole(t)
	post := func(token, path, body string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, at.Admin+path, bytes.NewBufferString(body))
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := post("not-a-token", "/v1/approvals/x/decision", `{"decision":"once","by":"x"}`); got != http.StatusUnauthorized {
		t.Fatalf("an unknown token: %d, want 401", got)
	}
	done := heldRead(dialAgent(t, at.MCP), "notes/C-1002.txt")
	var list []store.Approval
	testkit.WaitFor(t, 10*time.Second, "a pending approval", func() bool {
		adminGet(t, at, "/v1/approvals?state=pending", &list)
		return len(list) == 1
	})
	if got := post(consoleTokens["alice"], "/v1/approvals/"+list[0].ID+"/decision", `{"decision":"once","by":"mallory"}`); got != http.StatusOK {
		t.Fatalf("alice's decision: %d", got)
	}
	if res := <-done; res.IsError || !strings.Contains(resultTextOf(res), "double charge") {
		t.Fatalf("approved call = %+v", res)
	}
	var a store.Approval
	adminGet(t, at, "/v1/approvals/"+list[0].ID, &a)
	if a.DecidedBy != "alice" {
		t.Fatalf("decided by %q, want alice (her token's name, not the body's)", a.DecidedBy)
	}
}
