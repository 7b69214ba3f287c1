package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/warden-dev/warden/e2e/internal/conformancerun"
)

// ScenarioResult is the outcome of one conformance scenario.
type ScenarioResult = conformancerun.ScenarioResult

// conformanceRunTimeout bounds one run of the suite; a run takes a few
// seconds, so hitting it means a scenario hung.
const conformanceRunTimeout = 2 * time.Minute

// runConformance runs every server scenario of the pinned conformance suite
// (active and pending: the 32 of 0.1.16) against the MCP server at url and
// returns each scenario's outcome by name. It installs the npm peers first
// unless they match the lockfile, and fails the test if Node 22 or the suite
// is unavailable or the run does not complete. The suite's output is saved
// in the test's temp dir and logged when the test fails.
func runConformance(t *testing.T, url string) map[string]ScenarioResult {
	t.Helper()
	runner, err := conformancerun.Setup(context.Background(), filepath.Dir(nodeModules(t)))
	if err != nil {
		t.Fatalf("conformance suite unavailable: %v", err)
	}
	outDir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), conformanceRunTimeout)
	defer cancel()
	start := time.Now()
	results, out, err := runner.Run(ctx, url, conformancerun.SuiteAll, outDir)
	if err != nil {
		t.Fatalf("run conformance suite against %s: %v", url, err)
	}
	t.Logf("conformance suite: %d scenarios in %v", len(results), time.Since(start).Round(time.Millisecond))
	if werr := os.WriteFile(filepath.Join(outDir, "suite-output.txt"), out, 0o600); werr != nil {
		t.Logf("save suite output: %v", werr)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("conformance suite output:\n%s", out)
		}
	})
	return results
}
