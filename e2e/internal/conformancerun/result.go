// Package conformancerun runs the @modelcontextprotocol/conformance server
// suite (pinned in e2e/package.json) against an MCP server URL and reads back
// the outcome of every scenario, so that tests can compare outcomes.
package conformancerun

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
)

// Check statuses the suite records.
const (
	StatusSuccess = "SUCCESS"
	StatusFailure = "FAILURE"
	StatusWarning = "WARNING"
	StatusInfo    = "INFO"
)

// Check is one check of a scenario, as the suite wrote it to checks.json.
type Check struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Description  string `json:"description"`
	Status       string `json:"status"`
	ErrorMessage string `json:"errorMessage,omitempty"`
}

// ScenarioResult is the outcome of one scenario.
type ScenarioResult struct {
	// Name is the scenario name, e.g. "tools-call-with-progress".
	Name string
	// Passed is true when no check failed; the suite's own summary marks
	// such a scenario with a check mark. Warnings do not fail a scenario.
	Passed bool
	// Failures and Warnings are the FAILURE and WARNING checks, in order.
	Failures []Check
	Warnings []Check
	// Counts is the number of checks per status (SUCCESS, FAILURE, ...).
	Counts map[string]int
}

// String summarises r on one line, naming its failed checks.
func (r ScenarioResult) String() string {
	s := fmt.Sprintf("%s: passed=%t success=%d failure=%d warning=%d info=%d",
		r.Name, r.Passed, r.Counts[StatusSuccess], r.Counts[StatusFailure], r.Counts[StatusWarning], r.Counts[StatusInfo])
	for _, c := range r.Failures {
		s += fmt.Sprintf("\n  FAILURE %s: %s", c.ID, c.ErrorMessage)
	}
	for _, c := range r.Warnings {
		s += fmt.Sprintf("\n  WARNING %s: %s", c.ID, c.ErrorMessage)
	}
	return s
}

// resultDirPattern matches the per-scenario directories the suite writes:
// "server-<scenario>-<ISO timestamp with ':' and '.' replaced by '-'>".
var resultDirPattern = regexp.MustCompile(`^server-(.+)-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$`)

// ParseDir reads the per-scenario checks.json files the suite wrote under dir
// (its -o option). A scenario that crashed before its checks were saved has
// no directory and is therefore absent from the result.
func ParseDir(dir string) (map[string]ScenarioResult, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read conformance output dir: %w", err)
	}
	results := make(map[string]ScenarioResult)
	for _, e := range entries {
		m := resultDirPattern.FindStringSubmatch(e.Name())
		if !e.IsDir() || m == nil {
			continue
		}
		name := m[1]
		if _, dup := results[name]; dup {
			return nil, fmt.Errorf("conformance output dir %s: scenario %q appears twice", dir, name)
		}
		r, err := parseChecks(name, filepath.Join(dir, e.Name(), "checks.json"))
		if err != nil {
			return nil, err
		}
		results[name] = r
	}
	return results, nil
}

func parseChecks(name, path string) (ScenarioResult, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return ScenarioResult{}, fmt.Errorf("scenario %s: %w", name, err)
	}
	var checks []Check
	if err := json.Unmarshal(data, &checks); err != nil {
		return ScenarioResult{}, fmt.Errorf("scenario %s: parse %s: %w", name, path, err)
	}
	r := ScenarioResult{Name: name, Counts: make(map[string]int)}
	for _, c := range checks {
		switch c.Status {
		case StatusSuccess, StatusInfo:
		case StatusFailure:
			r.Failures = append(r.Failures, c)
		case StatusWarning:
			r.Warnings = append(r.Warnings, c)
		default:
			return ScenarioResult{}, fmt.Errorf("scenario %s: check %q has unknown status %q", name, c.ID, c.Status)
		}
		r.Counts[c.Status]++
	}
	r.Passed = len(r.Failures) == 0
	return r, nil
}

// Names returns the scenario names of results, sorted.
func Names(results map[string]ScenarioResult) []string {
	names := make([]string, 0, len(results))
	for n := range results {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
