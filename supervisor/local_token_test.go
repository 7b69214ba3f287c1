package supervisor

import (
	"crypto/sha256"
	"encoding/hex"
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
