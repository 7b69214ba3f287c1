package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/warden-dev/warden/internal/ocsfschema"
	"github.com/warden-dev/warden/internal/testkit"
)

// TestServeExportsOCSF: warden serve with export.ocsf.file streams real
// calls to the file; a restart resumes from the cursor (a sink that
// started over would send the whole history again), so the file ends with
// every line warden export --format ocsf writes for the history, once,
// each valid OCSF.
func TestServeExportsOCSF(t *testing.T) {
	a, url, stop := serveWith(t, "", "export: {ocsf: {file: siem/ocsf.jsonl, batch: 3, interval: 10ms}}\n")
	cfgPath, dbFile := a.cfg.File, dbPath(a.cfg)
	out := filepath.Join(filepath.Dir(cfgPath), "siem", "ocsf.jsonl")
	callTool(t, url, "read_file", map[string]any{"path": "policies/refunds.md"})
	callTool(t, url, "read_file", map[string]any{"path": "policies/refunds.md"})
	testkit.WaitFor(t, 30*time.Second, "the calls in the SIEM file", func() bool {
		return countKind(t, out, "call") == 2 && countKind(t, out, "result") == 2
	})
	stop()

	want := exportedUIDs(t, dbFile)
	_, _, stop = serveConfig(t, cfgPath)
	testkit.WaitFor(t, 30*time.Second, "the whole history in the SIEM file", func() bool {
		return len(missing(fileUIDs(t, out), want)) == 0
	})
	stop()
	got := fileUIDs(t, out)
	if uniq := slices.Compact(slices.Sorted(slices.Values(got))); len(uniq) != len(got) {
		t.Fatalf("%d lines, %d different: lines were sent twice across a clean restart", len(got), len(uniq))
	}
	if extra := missing(exportedUIDs(t, dbFile), got); len(extra) > 0 {
		t.Fatalf("the file has lines warden export does not: %v", extra)
	}
	if countKind(t, out, "session_end") == 0 {
		t.Fatal("no session end in the file after the restart")
	}
	schema, err := ocsfschema.Load(os.DirFS(ocsfSchemaDir))
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range fileLines(t, out) {
		for _, err := range schema.Validate(line) {
			t.Errorf("line %d: %v", i+1, err)
		}
	}
}

func fileLines(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		out = append(out, slices.Clone(sc.Bytes()))
	}
	return out
}

// ocsfHead is what these tests read of a line.
type ocsfHead struct {
	Metadata struct{ UID string } `json:"metadata"`
	Unmapped struct {
		Warden struct{ Kind string } `json:"warden"`
	} `json:"unmapped"`
}

func heads(t *testing.T, lines [][]byte) []ocsfHead {
	t.Helper()
	out := make([]ocsfHead, len(lines))
	for i, l := range lines {
		if err := json.Unmarshal(l, &out[i]); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
	}
	return out
}

func fileUIDs(t *testing.T, path string) []string {
	t.Helper()
	var out []string
	for _, h := range heads(t, fileLines(t, path)) {
		out = append(out, h.Metadata.UID)
	}
	return out
}

func countKind(t *testing.T, path, kind string) int {
	t.Helper()
	n := 0
	for _, h := range heads(t, fileLines(t, path)) {
		if h.Unmapped.Warden.Kind == kind {
			n++
		}
	}
	return n
}

// exportedUIDs runs warden export --format ocsf on the history.
func exportedUIDs(t *testing.T, dbFile string) []string {
	t.Helper()
	f := exportTo(t, dbFile, "ocsf", "")
	return fileUIDs(t, f.Name())
}

func missing(got, want []string) []string {
	var out []string
	for _, u := range want {
		if !slices.Contains(got, u) {
			out = append(out, u)
		}
	}
	return out
}
