package e2e

import (
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/warden-dev/warden/e2e/fixtures/conformance"
	"github.com/warden-dev/warden/supervisor"
	"github.com/warden-dev/warden/tools"
)

// agentFramework stands for the agent's framework in front of warden: it
// adds the agent's bearer token to every request, as a framework configured
// with warden's endpoint and token does. The conformance suite itself sends
// no credentials. Host and Origin pass through untouched, so warden's own
// DNS-rebinding protection is what the suite sees.
func agentFramework(t *testing.T, target, token string) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			r.Out.Host = r.In.Host
			r.Out.Header.Set("Authorization", "Bearer "+token)
		},
		FlushInterval: -1, // event streams flow as they are written
	}
	return serveHTTP(t, proxy)
}

// TestConformanceThroughWarden runs every server scenario of the
// conformance suite against the fixture directly and through warden, and
// requires the same outcome for each; dns-rebinding-protection is then
// warden's own.
func TestConformanceThroughWarden(t *testing.T) {
	direct := httptest.NewServer(conformance.Handler())
	t.Cleanup(direct.Close)
	const token = "conformance-agent-token"
	w := startWarden(t,
		// Each conformance session gets its own upstream session, as
		// every agent session does by default.
		[]tools.Spec{{Name: "fixture", URL: direct.URL + "/mcp", Sharing: tools.PerSession}},
		[]supervisor.Agent{{Name: "conformance", TokenSHA256: hashToken(token)}})
	front := agentFramework(t, strings.TrimSuffix(w.URL, "/mcp"), token)

	want := runConformance(t, direct.URL+"/mcp")
	got := runConformance(t, front+"/mcp")
	sameOutcomes(t, want, got, "through warden")
}

// sameOutcomes fails t unless every conformance scenario ran in got
// (run where) and passed, as it did in want (the fixture directly).
func sameOutcomes(t *testing.T, want, got map[string]ScenarioResult, where string) {
	t.Helper()
	for _, name := range conformanceScenarios {
		d, ok := want[name]
		if !ok {
			t.Errorf("%s: missing from the direct run", name)
			continue
		}
		g, ok := got[name]
		switch {
		case !ok:
			t.Errorf("%s: missing from the run %s", name, where)
		case g.Passed != d.Passed:
			t.Errorf("%s: directly passed=%v, %s passed=%v: %s", name, d.Passed, where, g.Passed, g)
		case !g.Passed:
			t.Errorf("%s: fails both directly and %s: %s", name, where, g)
		}
	}
	if len(got) != len(conformanceScenarios) {
		t.Errorf("%s: %d scenarios ran, want %d", where, len(got), len(conformanceScenarios))
	}
}
