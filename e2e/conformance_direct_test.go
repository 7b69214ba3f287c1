package e2e

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/warden-dev/warden/e2e/fixtures/conformance"
)

// conformanceScenarios are the server scenarios of conformance 0.1.16 (30
// active and 2 pending: json-schema-2020-12, server-sse-polling). Listing them
// makes a scenario that silently vanishes from the output a failure.
var conformanceScenarios = []string{
	"server-initialize",
	"logging-set-level",
	"ping",
	"completion-complete",
	"tools-list",
	"tools-call-simple-text",
	"tools-call-image",
	"tools-call-audio",
	"tools-call-embedded-resource",
	"tools-call-mixed-content",
	"tools-call-with-logging",
	"tools-call-error",
	"tools-call-with-progress",
	"tools-call-sampling",
	"tools-call-elicitation",
	"json-schema-2020-12",
	"elicitation-sep1034-defaults",
	"server-sse-polling",
	"server-sse-multiple-streams",
	"elicitation-sep1330-enums",
	"resources-list",
	"resources-read-text",
	"resources-read-binary",
	"resources-templates-read",
	"resources-subscribe",
	"resources-unsubscribe",
	"prompts-list",
	"prompts-get-simple",
	"prompts-get-with-args",
	"prompts-get-embedded-resource",
	"prompts-get-with-image",
	"dns-rebinding-protection",
}

// TestConformanceDirect checks that the fixture passes every scenario
// directly, with no warnings, so it can serve as the reference upstream.
func TestConformanceDirect(t *testing.T) {
	srv := httptest.NewServer(conformance.Handler())
	t.Cleanup(srv.Close)

	results := runConformance(t, srv.URL+"/mcp")

	for _, name := range conformanceScenarios {
		r, ok := results[name]
		switch {
		case !ok:
			t.Errorf("scenario %s: missing from the suite's output", name)
		case !r.Passed || len(r.Warnings) > 0:
			t.Errorf("scenario %s did not pass cleanly:\n%v", name, r)
		}
	}
	if len(results) != len(conformanceScenarios) {
		t.Errorf("suite ran %d scenarios, want the %d listed: %v", len(results), len(conformanceScenarios), names(results))
	}
}

// TestConformanceDetectsFailure checks that the runner reports a scenario the
// server breaks: with test_simple_text calls refused, that scenario must fail
// with its check named, while the others still pass.
func TestConformanceDetectsFailure(t *testing.T) {
	srv := httptest.NewServer(refuseToolCall(t, conformance.Handler(), "test_simple_text"))
	t.Cleanup(srv.Close)

	results := runConformance(t, srv.URL+"/mcp")

	tests := []struct {
		scenario   string
		wantPassed bool
	}{
		{"tools-call-simple-text", false},
		{"tools-call-image", true},
		{"ping", true},
	}
	for _, tt := range tests {
		r, ok := results[tt.scenario]
		if !ok {
			t.Errorf("scenario %s missing from results", tt.scenario)
			continue
		}
		if r.Passed != tt.wantPassed {
			t.Errorf("scenario %s: passed=%t, want %t:\n%v", tt.scenario, r.Passed, tt.wantPassed, r)
		}
		if !tt.wantPassed && (len(r.Failures) == 0 || r.Failures[0].ID != tt.scenario) {
			t.Errorf("scenario %s: want failed check %q, got %+v", tt.scenario, tt.scenario, r.Failures)
		}
	}
}

// refuseToolCall answers 500 to any POST whose body names tool, and passes
// everything else to next.
func refuseToolCall(t *testing.T, next http.Handler, tool string) http.Handler {
	t.Helper()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			if strings.Contains(string(body), `"`+tool+`"`) {
				http.Error(w, "refused by test", http.StatusInternalServerError)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		next.ServeHTTP(w, r)
	})
}

func names(results map[string]ScenarioResult) []string {
	out := make([]string, 0, len(results))
	for n := range results {
		out = append(out, n)
	}
	return out
}
