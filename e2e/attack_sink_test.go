package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const sinkAttackKey = "sink-api-key-do-not-leak-0123456789"

// TestAttackSinkRedirect: the live OCSF export does not follow a
// redirect. An endpoint (https, or http on loopback) that answers 307
// would otherwise have warden POST the history, and the API key from
// headers_env with it, to wherever it points, plain http to another
// host included: the config's https-or-loopback rule would be bypassed.
// The batch counts as not delivered and is retried; the key is in no log.
func TestAttackSinkRedirect(t *testing.T) {
	var elsewhere, redirects atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(other.Close)
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		redirects.Add(1)
		http.Redirect(w, r, other.URL+"/collect", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(sink.Close)

	t.Setenv("ATTACK_SINK_KEY", sinkAttackKey)
	bin := buildWarden(t)
	cfg := deskConfig(t, "", fmt.Sprintf(`export:
  ocsf: {url: %q, headers_env: {X-Api-Key: ATTACK_SINK_KEY}, interval: 50ms}
agents:
  - name: desktop
    token_sha256: %s
`, sink.URL+"/ingest", hashToken(policyAttackToken)))
	serve := startServe(t, bin, cfg)
	c := connect(t, serve.url, policyAttackToken)
	callTool(t, c, "echo", map[string]any{"message": "hello"})

	// The sink retries a batch it could not deliver: a second attempt
	// means the first (and whatever it followed) is over.
	deadline := time.Now().Add(30 * time.Second)
	for redirects.Load() < 2 && elsewhere.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the export reached the endpoint %d times in 30s\n%s", redirects.Load(), serve.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := elsewhere.Load(); n != 0 {
		t.Fatalf("the export followed the redirect: %d POSTs reached another endpoint", n)
	}
	if !strings.Contains(serve.stderr.String(), "307") {
		t.Errorf("serve did not log the refused redirect:\n%s", serve.stderr)
	}
	if strings.Contains(serve.stderr.String(), sinkAttackKey) {
		t.Errorf("serve logged the sink's API key:\n%s", serve.stderr)
	}
}
