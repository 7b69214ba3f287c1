package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/store"
)

// ladderRulesWorkflow lets the viewer echo, and answers what a message
// says: LOUD is flagged, FORBIDDEN denied, ASK held for an approver.
const ladderRulesWorkflow = loudWorkflow + `  - name: forbidden
    when: 'args.message contains "FORBIDDEN"'
    action: deny
    reason: a forbidden word
  - name: ask
    when: 'args.message contains "ASK"'
    action: step_up
    reason: a question for a human
`

// scrape reads warden's /metrics with token and parses it as Prometheus
// would; it returns the status and, on 200, the metric families.
func scrape(t *testing.T, base, token string) (int, map[string]*dto.MetricFamily) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return resp.StatusCode, fams
}

// sample is the value of the sample of family name whose labels include
// want: a counter's or gauge's value, a histogram's count; -1 when there
// is none.
func sample(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	fam, ok := fams[name]
	if !ok {
		return -1
	}
	for _, m := range fam.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			match = match && have[k] == v
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	return -1
}

// TestMetricsMatchARun: a real run through `warden serve` and a real MCP
// server (calls allowed, flagged, denied, one stepped up and approved
// through the admin API, then the session killed) shows in /metrics, read
// with the admin token and parsed as Prometheus does: each verdict's
// count, the decision and upstream latencies' counts, the approval and its
// wait, the kill, the live sessions before and after it, the upstream up,
// and the webhooks delivered as the receiver saw them. A scrape without
// the admin token, or with another, is refused.
func TestMetricsMatchARun(t *testing.T) {
	secret := "metrics-webhook-secret-0123456789"
	t.Setenv("WARDEN_METRICS_HOOK_SECRET", secret)
	hook := newOperatorHook(t, []byte(secret))
	port := freePort(t)
	settings := fmt.Sprintf("admin: {listen: \"127.0.0.1:%d\", token_sha256: %s}\n", port, hashToken(viewsAdminToken)) +
		fmt.Sprintf("approvals: {webhooks: [{url: %q}], secret_env: WARDEN_METRICS_HOOK_SECRET}\n", hook.URL)
	bin, cfg, _ := viewerServeConfig(t, settings, ladderRulesWorkflow)
	p := startServe(t, bin, cfg)
	defer stopServe(t, p)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	api := testkit.Admin{Base: base, Token: viewsAdminToken}

	for _, token := range []string{"", "not-the-admin-token", viewsToken} {
		if st, fams := scrape(t, base, token); st != http.StatusUnauthorized || fams != nil {
			t.Fatalf("scrape with token %q: %d, want 401", token, st)
		}
	}

	c, err := quietDial(p.url, viewsToken)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sid := c.GetSessionId()
	for _, msg := range []string{"quiet one", "quiet two", "LOUD words", "FORBIDDEN words"} {
		callTool(t, c, "echo", map[string]any{"message": msg})
	}
	asked := make(chan *mcp.CallToolResult, 1)
	go func() {
		res, _ := tryCall(c, "echo", map[string]any{"message": "ASK first"})
		asked <- res
	}()
	var pending []store.Approval
	testkit.WaitFor(t, 30*time.Second, "the ASK call held for an approver", func() bool {
		pending = nil
		st, _ := api.Do(t, http.MethodGet, "/v1/approvals?state=pending", nil, &pending)
		return st == http.StatusOK && len(pending) == 1
	})
	_, fams := scrape(t, base, viewsAdminToken)
	if got := sample(fams, "warden_approvals_pending", nil); got != 1 {
		t.Fatalf("warden_approvals_pending while the call is held = %v, want 1", got)
	}
	if st, body := api.Do(t, http.MethodPost, "/v1/approvals/"+pending[0].ID+"/decision",
		map[string]string{"decision": "once", "by": "metrics-test"}, nil); st != http.StatusOK {
		t.Fatalf("approve: %d %s", st, body)
	}
	if res := testkit.Recv(t, asked, 30*time.Second, "the approved call's answer"); res == nil || res.IsError {
		t.Fatalf("the approved call = %+v, want its result", res)
	}

	_, fams = scrape(t, base, viewsAdminToken)
	viewer := map[string]string{"agent": "viewer"}
	if got := sample(fams, "warden_sessions_live", viewer); got != 1 {
		t.Fatalf("warden_sessions_live{agent=viewer} = %v, want 1", got)
	}
	if st, body := api.Do(t, http.MethodPost, "/v1/sessions/"+sid+"/kill", map[string]string{"reason": "metrics test"}, nil); st != http.StatusOK {
		t.Fatalf("kill: %d %s", st, body)
	}

	// Webhooks are delivered in the background: wait for the receiver to
	// have all four kinds, then for the metrics to count what it got.
	kinds := []string{"call.flagged", "approval.requested", "approval.decided", "session.killed"}
	received := func() map[string]int {
		hook.mu.Lock()
		defer hook.mu.Unlock()
		n := map[string]int{}
		for _, m := range hook.got {
			n[fmt.Sprint(m["type"])]++
		}
		return n
	}
	testkit.WaitFor(t, 30*time.Second, "every kind of webhook received", func() bool {
		n := received()
		for _, k := range kinds {
			if n[k] == 0 {
				return false
			}
		}
		return true
	})
	testkit.WaitFor(t, 30*time.Second, "the deliveries counted", func() bool {
		_, fams = scrape(t, base, viewsAdminToken)
		for k, n := range received() {
			if sample(fams, "warden_webhook_deliveries_total", map[string]string{"event": k, "result": "ok"}) != float64(n) {
				return false
			}
		}
		return true
	})
	if bad := hook.refused(); len(bad) > 0 {
		t.Fatalf("the receiver refused deliveries: %v", bad)
	}

	want := []struct {
		name   string
		labels map[string]string
		value  float64
	}{
		{"warden_calls_total", map[string]string{"agent": "viewer", "tool": "echo", "verdict": "allow"}, 2},
		{"warden_calls_total", map[string]string{"agent": "viewer", "tool": "echo", "verdict": "flag"}, 1},
		{"warden_calls_total", map[string]string{"agent": "viewer", "tool": "echo", "verdict": "deny"}, 1},
		{"warden_calls_total", map[string]string{"agent": "viewer", "tool": "echo", "verdict": "step_up"}, 1},
		{"warden_decision_duration_seconds", viewer, 5},
		{"warden_upstream_call_duration_seconds", map[string]string{"upstream": "desk"}, 4}, // all but the denied call
		{"warden_approvals_total", map[string]string{"agent": "viewer", "outcome": "approved"}, 1},
		{"warden_approval_wait_seconds", map[string]string{"outcome": "approved"}, 1},
		{"warden_approvals_pending", nil, 0},
		{"warden_kills_total", viewer, 1},
		{"warden_sessions_live", viewer, 0},
		{"warden_upstream_up", map[string]string{"upstream": "desk"}, 1},
		{"warden_upstream_call_failures_total", map[string]string{"upstream": "desk"}, 0},
		{"warden_upstream_restarts_total", map[string]string{"upstream": "desk"}, 0},
		{"warden_webhook_deliveries_total", map[string]string{"result": "failed"}, -1}, // none failed
	}
	for _, w := range want {
		if got := sample(fams, w.name, w.labels); got != w.value {
			t.Errorf("%s%v = %v, want %v", w.name, w.labels, got, w.value)
		}
	}
	// The durable path: every call and result is a durable write (9 here,
	// besides session starts and the rest); concurrent writes share
	// fdatasyncs, so there are at most as many as writes.
	writes, syncs := sample(fams, "warden_durable_writes_total", nil), sample(fams, "warden_durable_fsyncs_total", nil)
	if writes < 9 || syncs < 1 || syncs > writes {
		t.Errorf("durable writes %v, fsyncs %v: want at least 9 writes and 1 to writes fsyncs", writes, syncs)
	}
	if sample(fams, "warden_durable_fsync_seconds_total", nil) <= 0 || sample(fams, "warden_durable_write_wait_seconds_total", nil) <= 0 {
		t.Error("the durable path's time is not counted")
	}
	for name := range fams {
		if !strings.HasPrefix(name, "warden_") {
			t.Errorf("metric %s is not warden's: the registry is not private", name)
		}
	}
	// The example dashboard uses only metrics warden serves.
	dash, err := os.ReadFile(filepath.Join("..", "examples", "grafana", "warden.json"))
	if err != nil {
		t.Fatal(err)
	}
	used := regexp.MustCompile(`warden_[a-z_]+`).FindAllString(string(dash), -1)
	if len(used) == 0 {
		t.Fatal("the example dashboard uses no warden metric")
	}
	for _, name := range used {
		name = strings.TrimSuffix(name, "_bucket")
		if _, ok := fams[name]; !ok {
			t.Errorf("examples/grafana/warden.json uses %s, which /metrics does not serve", name)
		}
	}
}
