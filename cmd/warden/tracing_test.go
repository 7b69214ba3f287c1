package main

import (
	"net/http/httptest"
	"testing"

	"github.com/warden-dev/warden/internal/testkit"
)

// TestServeExportsTraces runs serve with and without the tracing section,
// with a collector listening either way: with it, the call's spans reach
// the collector with the configured header by the time serve has stopped
// (shutdown flushes them); without it, nothing is exported, even though
// the standard OTEL_EXPORTER_OTLP_* variables name that collector.
func TestServeExportsTraces(t *testing.T) {
	tests := []struct {
		name    string
		section bool
	}{
		{"tracing section", true},
		{"no tracing section", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rcv := &testkit.OTLPReceiver{}
			collector := httptest.NewServer(rcv)
			t.Cleanup(collector.Close)
			t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
			t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", collector.URL+"/v1/traces")
			t.Setenv("WARDEN_TEST_OTLP_AUTH", "Bearer otlp-test")
			top := ""
			if tt.section {
				top = "tracing: {otlp_endpoint: \"" + collector.URL + "\", headers_env: {Authorization: WARDEN_TEST_OTLP_AUTH}}\n"
			}
			_, url, stop := serveWith(t, "    workflow: \n", top)
			callTool(t, url, "read_file", map[string]any{"path": "policies/refunds.md"})
			stop()

			reqs := rcv.Requests()
			if !tt.section {
				if len(reqs) != 0 {
					t.Fatalf("tracing is off but %d exports were made", len(reqs))
				}
				return
			}
			if len(reqs) == 0 {
				t.Fatal("no export reached the collector")
			}
			if got := reqs[0].Get("Authorization"); got != "Bearer otlp-test" {
				t.Errorf("export's Authorization %q, want the headers_env value", got)
			}
			calls := 0
			for _, s := range rcv.Spans() {
				if s.Name == "warden.call" && testkit.Attr(s, "warden.tool") == "read_file" && testkit.Attr(s, "warden.verdict") == "allow" {
					calls++
				}
			}
			if calls != 1 {
				t.Errorf("%d warden.call spans of read_file allowed, want 1 (spans: %v)", calls, rcv.Spans())
			}
		})
	}
}
