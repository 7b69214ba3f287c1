package conformancerun

import (
	"os"
	"path/filepath"
	"testing"
)

func writeScenario(t *testing.T, dir, dirName, checks string) {
	t.Helper()
	sub := filepath.Join(dir, dirName)
	if err := os.MkdirAll(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "checks.json"), []byte(checks), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestParseDir(t *testing.T) {
	const ts = "-2026-11-27T08-42-24-084Z"
	tests := []struct {
		name         string
		dirs         map[string]string // dir name -> checks.json
		wantErr      bool
		wantScenario string
		wantPassed   bool
		wantFailures int
		wantWarnings int
	}{
		{
			name:         "success and info pass",
			dirs:         map[string]string{"server-ping" + ts: `[{"id":"ping","status":"SUCCESS"},{"id":"x","status":"INFO"}]`},
			wantScenario: "ping", wantPassed: true,
		},
		{
			name:         "failure fails",
			dirs:         map[string]string{"server-tools-call-with-progress" + ts: `[{"id":"tools-call-with-progress","status":"FAILURE","errorMessage":"got 2"}]`},
			wantScenario: "tools-call-with-progress", wantPassed: false, wantFailures: 1,
		},
		{
			name:         "warning alone passes but is kept",
			dirs:         map[string]string{"server-server-sse-polling" + ts: `[{"id":"server-sse-priming-event","status":"WARNING"}]`},
			wantScenario: "server-sse-polling", wantPassed: true, wantWarnings: 1,
		},
		{
			name:    "unknown status",
			dirs:    map[string]string{"server-ping" + ts: `[{"id":"ping","status":"MAYBE"}]`},
			wantErr: true,
		},
		{
			name:    "bad json",
			dirs:    map[string]string{"server-ping" + ts: `[{"id":`},
			wantErr: true,
		},
		{
			name: "duplicate scenario",
			dirs: map[string]string{
				"server-ping" + ts:                     `[]`,
				"server-ping-2026-11-27T08-42-25-000Z": `[]`,
			},
			wantErr: true,
		},
		{
			name:         "unrelated dirs ignored",
			dirs:         map[string]string{"notes": `[]`, "server-ping" + ts: `[{"id":"ping","status":"SUCCESS"}]`},
			wantScenario: "ping", wantPassed: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for d, checks := range tt.dirs {
				writeScenario(t, dir, d, checks)
			}
			got, err := ParseDir(dir)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseDir: want error, got %v", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseDir: %v", err)
			}
			if len(got) != 1 {
				t.Fatalf("want 1 scenario, got %v", Names(got))
			}
			r, ok := got[tt.wantScenario]
			if !ok {
				t.Fatalf("scenario %q missing, got %v", tt.wantScenario, Names(got))
			}
			if r.Passed != tt.wantPassed || len(r.Failures) != tt.wantFailures || len(r.Warnings) != tt.wantWarnings {
				t.Errorf("got %v, want passed=%t failures=%d warnings=%d", r, tt.wantPassed, tt.wantFailures, tt.wantWarnings)
			}
		})
	}
}

func TestParseSummary(t *testing.T) {
	out := []byte("=== Running scenario: ping ===\n✓ not-summary: 1 passed, 0 failed\n\n=== SUMMARY ===\n" +
		"✓ ping: 1 passed, 0 failed\n✗ tools-call-with-progress: 0 passed, 1 failed\n\nTotal: 1 passed, 1 failed\n")
	got := parseSummary(out)
	want := map[string]bool{"ping": true, "tools-call-with-progress": false}
	if len(got) != len(want) {
		t.Fatalf("parseSummary = %v, want %v", got, want)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("parseSummary[%q] = %v,%v, want %v", k, g, ok, v)
		}
	}
}

func FuzzParseSummary(f *testing.F) {
	f.Add([]byte("=== SUMMARY ===\n✓ ping: 1 passed, 0 failed\n"))
	f.Add([]byte("=== SUMMARY ===\n✗ a b: x passed\n"))
	f.Fuzz(func(t *testing.T, out []byte) {
		for name := range parseSummary(out) {
			if name == "" {
				t.Fatalf("empty scenario name from %q", out)
			}
		}
	})
}
