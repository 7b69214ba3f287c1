package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemoDir: the demo makes a missing --data folder (and its parents),
// or a new one under the temporary directory, and offers to remove only a
// folder it made, never one the user already had.
func TestDemoDir(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	existing := t.TempDir()
	cases := []struct {
		name, dir string
		made      bool
		under     string // the path must start with this
	}{
		{name: "default", dir: "", made: true, under: filepath.Join(tmp, "warden-demo-")},
		{name: "missing", dir: filepath.Join(tmp, "a", "b"), made: true, under: filepath.Join(tmp, "a", "b")},
		{name: "existing", dir: existing, made: false, under: existing},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, made, err := demoDir(tc.dir)
			if err != nil {
				t.Fatal(err)
			}
			if made != tc.made || !strings.HasPrefix(got, tc.under) {
				t.Fatalf("demoDir(%q) = %q, made %v; want under %q, made %v", tc.dir, got, made, tc.under, tc.made)
			}
			if st, err := os.Stat(got); err != nil || !st.IsDir() {
				t.Fatalf("%s is not a directory: %v", got, err)
			}
		})
	}
}
