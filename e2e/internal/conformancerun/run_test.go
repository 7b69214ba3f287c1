package conformancerun

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSetupReportsMissingPeers checks that a half-installed e2e dir (a
// node_modules without the pinned peers) fails with a clear message rather
// than at run time.
func TestSetupReportsMissingPeers(t *testing.T) {
	tests := []struct {
		name    string
		files   []string // created under the e2e dir
		wantErr string
	}{
		{"no conformance package", []string{"node_modules/.keep"}, "conformance package missing"},
		{"no node 22", []string{entryRel}, "node 22 missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range tt.files {
				p := filepath.Join(dir, f)
				if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			_, err := Setup(context.Background(), dir)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Setup = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}
