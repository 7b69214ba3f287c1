package workflows

import (
	"strings"
	"testing"
)

// TestTimeDependent: a workflow that reads the clock says where; one that
// does not says nothing.
func TestTimeDependent(t *testing.T) {
	base := "agent: a\nanytime: [s]\nsteps:\n  - name: s\n    tool: t\n"
	tests := []struct {
		name, extra, guard string
		want               string
	}{
		{"nothing", "", "", ""},
		{"max_duration", "budget: {max_duration: 30m}\n", "", "budget.max_duration 30m0s"},
		{"throttle", "throttle: {per_minute: 10, burst: 2}\n", "", "throttle 10 per minute"},
		{"rule reads now", "rules:\n  - when: \"now.Hour() > 22\"\n    action: flag\n", "", `rule "now.Hour() > 22"`},
		{"rule reads risk", "rules:\n  - when: \"session.risk > 5\"\n    action: flag\n", "", `rule "session.risk > 5"`},
		{"guard reads since", "", "since('t') > 1", `step s: guard "since('t') > 1"`},
		{"a word that is not the clock", "rules:\n  - when: \"args.nowhere == 'x' && count('t') > 3\"\n    action: flag\n", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := base
			if tt.guard != "" {
				src += "    guard: \"" + tt.guard + "\"\n"
			}
			w, err := Parse("w.yaml", []byte(src+tt.extra))
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(w.TimeDependent(), "\n")
			if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
				t.Errorf("TimeDependent() = %q, want %q", got, tt.want)
			}
		})
	}
}
