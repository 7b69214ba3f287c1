package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// localTokenConfig is shareConfig with loopback as a trusted proxy, so
// that a request can say it was relayed for another address.
func localTokenConfig(t *testing.T) string {
	t.Helper()
	return deskConfig(t, "", fmt.Sprintf(`network: {trusted_proxies: [127.0.0.0/8, "::1"]}
agents:
  - name: desktop
    token_sha256: %s
    tools: ["read_*", "list_*"]
`, hashToken("desktop-http-token")))
}

// localToken reads the local token serve published for agent.
func localToken(t *testing.T, cfg, agent string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(filepath.Dir(cfg), "data", "holder.json"))
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		Tokens map[string]string `json:"tokens"`
	}
	if err := json.Unmarshal(data, &h); err != nil || h.Tokens[agent] == "" {
		t.Fatalf("holder.json has no local token for %s (%v): %s", agent, err, data)
	}
	return h.Tokens[agent]
}

// initializeStatus posts an initialize to url with the Authorization
// header auth (none if empty) and extra headers and returns the answer's
// status.
func initializeStatus(t *testing.T, url, auth string, header map[string]string) int {
	t.Helper()
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"attacker","version":"1"}}}`
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestAttackLocalToken: serve's local token (for stdio bridges) opens a
// session only from loopback: a request that a proxy relayed for another
// address is refused, though the agent's own token is accepted so; and
// a token of a serve that has since restarted opens nothing; serve logs
// no local token.
func TestAttackLocalToken(t *testing.T) {
	bin := buildWarden(t)
	cfg := localTokenConfig(t)
	serve := startServe(t, bin, cfg)
	local := localToken(t, cfg, "desktop")
	relayed := map[string]string{"X-Forwarded-For": "203.0.113.7"}
	for _, tc := range []struct {
		name   string
		token  string
		header map[string]string
		want   int
	}{
		{"local token from loopback", local, nil, http.StatusOK},
		{"local token relayed for another address", local, relayed, http.StatusUnauthorized},
		{"local token relayed, Forwarded", local, map[string]string{"Forwarded": "for=203.0.113.7"}, http.StatusUnauthorized},
		{"agent's own token relayed for another address", "desktop-http-token", relayed, http.StatusOK},
	} {
		if got := initializeStatus(t, serve.url, "Bearer "+tc.token, tc.header); got != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, got, tc.want)
		}
	}

	if err := serve.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-serve.done
	again := startServe(t, bin, cfg)
	if got := initializeStatus(t, again.url, "Bearer "+local, nil); got != http.StatusUnauthorized {
		t.Errorf("the previous serve's local token: status %d, want 401", got)
	}
	fresh := localToken(t, cfg, "desktop")
	if got := initializeStatus(t, again.url, "Bearer "+fresh, nil); got != http.StatusOK {
		t.Errorf("the new serve's local token: status %d, want 200", got)
	}
	for _, tok := range []string{local, fresh} {
		if strings.Contains(serve.stderr.String()+again.stderr.String(), tok) {
			t.Errorf("serve logged a local token:\n%s\n%s", serve.stderr, again.stderr)
		}
	}
}
