package e2e

import (
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/warden-dev/warden/e2e/fixtures/conformance"
)

// TestConformanceThroughReplicas runs every server scenario of the
// conformance suite through three `warden serve` replicas on one
// PostgreSQL database behind HAProxy (round robin, no stickiness), and
// requires the outcome of the fixture served directly. A session's
// requests land on every replica in turn: the answers to server-to-client
// requests (elicitation, sampling) and the standing GET stream reach the
// replica that serves the session because the others forward to it (on
// main the suite hung at tools-call-elicitation).
func TestConformanceThroughReplicas(t *testing.T) {
	direct := httptest.NewServer(conformance.Handler())
	t.Cleanup(direct.Close)
	const token = "conformance-agent-token"
	// The suite opens sessions faster than the default limit (20 per 2 s,
	// counted across the replicas in fixed windows): raised, as an
	// operator would for a client that opens many.
	set := startReplicasWith(t, 3, "", "", replicaOpts{configFor: func(i int, dir string) string {
		return fmt.Sprintf(`listen: 127.0.0.1:0
data_dir: %s
log: {level: info, format: json}
store: {postgres: {url_env: WARDEN_PG_URL, replica: r%d}}
upstreams:
  - name: fixture
    http: {url: %q}
    sessions: per_session
limits: {initialize: {per_minute: 6000, burst: 200}}
agents:
  - name: conformance
    token_sha256: %s
`, filepath.Join(dir, "data"), i, direct.URL+"/mcp", hashToken(token))
	}})
	front := agentFramework(t, strings.TrimSuffix(set.url, "/mcp"), token)

	want := runConformance(t, direct.URL+"/mcp")
	got := runConformance(t, front+"/mcp")
	sameOutcomes(t, want, got, "through the replicas")
}
