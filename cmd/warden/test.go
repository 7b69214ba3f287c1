package main

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/warden-dev/warden/supervisor"
)

// testCmd runs a policy directory's test cases, as `opa test` does for
// Rego: the workflows are DIR/*.yaml, the cases DIR/tests/**/*.jsonl.
type testCmd struct {
	Dir    string `arg:"" help:"The directory of workflows (*.yaml); its cases are in tests/ below it (*.jsonl, any depth)." type:"existingdir"`
	Rules  string `help:"Global rules to add to every workflow." type:"existingfile"`
	Filter string `name:"run" help:"Run only the cases whose id matches this regular expression (as go test -run)." placeholder:"REGEX"`
	JSON   bool   `help:"Print the results as one JSON object."`
}

// testCase is a case with where it came from and the workflow it runs against.
type testCase struct {
	supervisor.ReplayCase
	file     string // relative to DIR
	workflow string // the workflow's file name in DIR
}

// testResult is one case's outcome.
type testResult struct {
	ID         string                `json:"id"`
	File       string                `json:"file"`
	Line       int                   `json:"line"`
	Workflow   string                `json:"workflow"`
	Passed     bool                  `json:"passed"`
	Mismatches []supervisor.Mismatch `json:"mismatches"`
}

// testReport is the whole run, as --json prints it.
type testReport struct {
	Dir     string       `json:"dir"`
	Passed  int          `json:"passed"`
	Failed  int          `json:"failed"`
	Calls   int          `json:"calls_checked"`
	Results []testResult `json:"results"`
}

// Run replays every case against its workflow: exit 1 when any call's
// verdict is not what its case wants, 2 when a workflow or a case file is
// broken or there is no case to run.
func (c *testCmd) Run(g *cli) error {
	var filter *regexp.Regexp
	if c.Filter != "" {
		re, err := regexp.Compile(c.Filter)
		if err != nil {
			return exitError{code: 2, msg: "--run: " + err.Error()}
		}
		filter = re
	}
	policies, byAgent, err := c.workflows()
	if err != nil {
		return err
	}
	cases, err := c.cases(policies, byAgent, filter)
	if err != nil {
		return err
	}
	rep := testReport{Dir: c.Dir, Results: make([]testResult, 0, len(cases))}
	for _, tc := range cases {
		rs := supervisor.ReplaySession(policies[tc.workflow], tc.Trace, supervisor.ReplayOptions{PromptAsIntent: true})
		res := testResult{ID: tc.ID, File: tc.file, Line: tc.Line, Workflow: tc.workflow, Mismatches: tc.Check(rs)}
		if res.Mismatches == nil {
			res.Mismatches = []supervisor.Mismatch{} // [] in JSON
		}
		res.Passed = len(res.Mismatches) == 0
		if res.Passed {
			rep.Passed++
		} else {
			rep.Failed++
		}
		for _, w := range tc.Wants {
			if w.Checks() {
				rep.Calls++
			}
		}
		rep.Results = append(rep.Results, res)
	}
	if c.JSON {
		if err := json.NewEncoder(g.stdout()).Encode(rep); err != nil {
			return err
		}
	} else {
		printTests(g.stdout(), rep)
	}
	if rep.Failed > 0 {
		return exitError{code: 1}
	}
	return nil
}

// workflows loads every workflow in DIR, by file name, and lists the
// workflows of each agent.
func (c *testCmd) workflows() (map[string]*supervisor.Policy, map[string][]string, error) {
	entries, err := os.ReadDir(c.Dir)
	if err != nil {
		return nil, nil, err
	}
	policies := map[string]*supervisor.Policy{}
	byAgent := map[string][]string{}
	for _, e := range entries {
		ext := filepath.Ext(e.Name())
		if e.IsDir() || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		p, _, err := (&replayCmd{Workflow: filepath.Join(c.Dir, e.Name()), Rules: c.Rules}).policy()
		if err != nil {
			return nil, nil, err
		}
		policies[e.Name()] = p
		byAgent[p.Workflow.Agent] = append(byAgent[p.Workflow.Agent], e.Name())
	}
	if len(policies) == 0 {
		return nil, nil, exitError{code: 2, msg: fmt.Sprintf("no workflow (*.yaml) in %s", c.Dir)}
	}
	return policies, byAgent, nil
}

// cases reads every case file under DIR/tests, keeps the cases filter
// matches, and gives each its workflow.
func (c *testCmd) cases(policies map[string]*supervisor.Policy, byAgent map[string][]string, filter *regexp.Regexp) ([]testCase, error) {
	root := filepath.Join(c.Dir, "tests")
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && filepath.Ext(path) == ".jsonl" {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, exitError{code: 2, msg: fmt.Sprintf("no test cases: %v", err)}
	}
	var out []testCase
	total := 0
	for _, path := range files {
		rel, _ := filepath.Rel(c.Dir, path)
		read, err := readCases(path)
		if err != nil {
			return nil, err
		}
		for _, rc := range read {
			total++
			wf, err := caseWorkflow(rc, policies, byAgent)
			if err != nil {
				return nil, exitError{code: 2, msg: fmt.Sprintf("%s:%d: %v", path, rc.Line, err)}
			}
			if filter != nil && !filter.MatchString(rc.ID) {
				continue
			}
			out = append(out, testCase{ReplayCase: rc, file: rel, workflow: wf})
		}
	}
	switch {
	case total == 0:
		return nil, exitError{code: 2, msg: fmt.Sprintf("no test cases in %s (*.jsonl)", root)}
	case len(out) == 0:
		return nil, exitError{code: 2, msg: fmt.Sprintf("--run %q matches none of the %d cases", c.Filter, total)}
	}
	return out, nil
}

// readCases reads one case file; a broken one ends the run with exit 2.
func readCases(path string) ([]supervisor.ReplayCase, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, exitError{code: 2, msg: err.Error()}
	}
	defer f.Close()
	cases, err := supervisor.ReadReplayCases(path, f)
	if err != nil {
		return nil, exitError{code: 2, msg: "invalid test case: " + err.Error()}
	}
	return cases, nil
}

// caseWorkflow is the workflow a case runs against: the one it names, else
// the one for its agent, else the only one there is.
func caseWorkflow(rc supervisor.ReplayCase, policies map[string]*supervisor.Policy, byAgent map[string][]string) (string, error) {
	if rc.Workflow != "" {
		for _, name := range []string{rc.Workflow, rc.Workflow + ".yaml", rc.Workflow + ".yml"} {
			if _, ok := policies[name]; ok {
				return name, nil
			}
		}
		return "", fmt.Errorf("no workflow %q in the directory", rc.Workflow)
	}
	switch names := byAgent[rc.Agent]; {
	case len(names) == 1:
		return names[0], nil
	case len(names) > 1:
		return "", fmt.Errorf("agent %q has several workflows (%s): name one with \"workflow\"", rc.Agent, strings.Join(names, ", "))
	}
	if len(policies) == 1 {
		for name := range policies {
			return name, nil
		}
	}
	known := make([]string, 0, len(byAgent))
	for a := range byAgent {
		known = append(known, a)
	}
	sort.Strings(known)
	return "", fmt.Errorf("no workflow for agent %q (workflows are for %s): name one with \"workflow\"", rc.Agent, strings.Join(known, ", "))
}

// printTests writes each failed case with its mismatches and their
// reasons, then the totals.
func printTests(w io.Writer, rep testReport) {
	for _, r := range rep.Results {
		if r.Passed {
			continue
		}
		fmt.Fprintf(w, "FAIL %s (%s:%d, workflow %s)\n", r.ID, r.File, r.Line, r.Workflow)
		for _, m := range r.Mismatches {
			reasons := strings.Join(m.Reasons, "; ")
			if reasons == "" {
				reasons = "none"
			}
			fmt.Fprintf(w, "  call %d %s: got %s, want %s\n    reasons: %s\n", m.Call, m.Tool, m.Got, m.Want, reasons)
		}
	}
	status := "ok"
	if rep.Failed > 0 {
		status = "FAIL"
	}
	fmt.Fprintf(w, "%s %s: %d cases, %d passed, %d failed (%d calls checked)\n", status, rep.Dir, rep.Passed+rep.Failed, rep.Passed, rep.Failed, rep.Calls)
}
