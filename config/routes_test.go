package config

import (
	"strings"
	"testing"
)

// An agent's resources: and prompts: patterns, and what they are when
// omitted: they follow tools, so that restricting tools is never undone by
// another route to the same data.
func TestAgentRoutePatterns(t *testing.T) {
	tests := []struct {
		name               string
		fields             string
		resources, prompts []string
	}{
		{"tools omitted: all", "", []string{"*"}, []string{"*"}},
		{"tools set: none", "    tools: [read_*]\n", []string{}, []string{}},
		{"tools all, as when omitted: all", "    tools: [\"*\"]\n", []string{"*"}, []string{"*"}},
		{"given", "    tools: [read_*]\n    resources: [\"kb://files/*\"]\n    prompts: [summarize_*]\n", []string{"kb://files/*"}, []string{"summarize_*"}},
		{"explicitly none", "    resources: []\n    prompts: []\n", []string{}, []string{}},
		{"empty value: none", "    resources:\n    prompts:\n", []string{}, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse("w.yaml", fix(minimal+tc.fields), noEnv)
			if err != nil {
				t.Fatal(err)
			}
			a := cfg.Agents[0]
			if a.Resources == nil || a.Prompts == nil {
				t.Fatalf("nil patterns after loading: %#v %#v", a.Resources, a.Prompts)
			}
			if strings.Join(a.Resources, ",") != strings.Join(tc.resources, ",") || strings.Join(a.Prompts, ",") != strings.Join(tc.prompts, ",") {
				t.Errorf("resources %q prompts %q, want %q %q", a.Resources, a.Prompts, tc.resources, tc.prompts)
			}
		})
	}
}

func TestAgentRoutePatternErrors(t *testing.T) {
	mustFail(t, fix(minimal+"    resources: [\"\"]\n"), noEnv, want{7, 17, "agents[0].resources[0] is an empty pattern"})
	mustFail(t, fix(minimal+"    prompts: [\"[\"]\n"), noEnv, want{7, 15, `agents[0].prompts[0] "[" is not a valid glob pattern`})
	mustFail(t, fix(minimal+"    resources: kb\n"), noEnv, want{7, 16, "agents[0].resources must be a list"})
}
