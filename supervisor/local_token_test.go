package supervisor

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestLocalToken: an agent's local token (warden serve's, for a stdio
// bridge) authenticates it like its own token, and nobody else.
func TestLocalToken(t *testing.T) {
	h := func(s string) string { sum := sha256.Sum256([]byte(s)); return hex.EncodeToString(sum[:]) }
	ag, err := newAgents([]Agent{
		{Name: "a", TokenSHA256: h("a-token")},
		{Name: "b", TokenSHA256: h("b-token"), LocalTokenSHA256: h("b-local")},
		{Name: "c", TokenSHA256: h("c-token")},
	})
	if err != nil {
		t.Fatal(err)
	}
	for token, want := range map[string]string{"a-token": "a", "b-token": "b", "b-local": "b", "c-token": "c", "a-local": "", "": ""} {
		name := ""
		if got, ok := ag.byToken(token); ok {
			name = got.Name
		}
		if name != want {
			t.Errorf("token %q authenticates %q, want %q", token, name, want)
		}
	}
	if _, err := newAgents([]Agent{{Name: "x", TokenSHA256: h("x"), LocalTokenSHA256: "zz"}}); err == nil {
		t.Error("a malformed local token hash was accepted")
	}
}

// TestLocalTokenOnlyFromLoopback: the front accepts a local token only
// from a loopback peer; the agent's own token from anywhere.
func TestLocalTokenOnlyFromLoopback(t *testing.T) {
	sup, _ := startTestSupervisor(t, nil, func(o *Options) {
		o.Agents[0].LocalTokenSHA256 = tokenHash("ops-local")
	})
	h := sup.Handler()
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`
	for _, tc := range []struct {
		token, peer string
		want        int
	}{
		{"ops-local", "127.0.0.1:5000", http.StatusOK},
		{"ops-local", "[::1]:5000", http.StatusOK},
		{"ops-local", "192.0.2.10:5000", http.StatusUnauthorized},
		{"ops-local", "[::ffff:192.0.2.10]:5000", http.StatusUnauthorized},
		{testAgentToken, "192.0.2.10:5000", http.StatusOK},
	} {
		req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/mcp", strings.NewReader(body))
		req.RemoteAddr = tc.peer
		req.Header.Set("Authorization", "Bearer "+tc.token)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("token %s from %s: status %d, want %d (%s)", tc.token, tc.peer, rec.Code, tc.want, rec.Body)
		}
	}
}
