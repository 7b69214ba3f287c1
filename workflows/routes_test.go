package workflows

import (
	"strings"
	"testing"

	"github.com/warden-dev/warden"
)

// routesWorkflow names a tool, a resource URI pattern and a prompt with
// the same text, so that only the kind tells them apart.
const routesWorkflow = `
agent: kb
start: [docs]
anytime: [docs, kb, summary]
steps:
  - name: docs
    tool: read_file
  - name: kb
    resource: "kb://files/*"
    guard: "call.kind == 'resource' && !(call.uri startsWith 'kb://files/secrets/')"
  - name: summary
    prompt: summarize_*
rules:
  - when: "call.prompt != '' && args.path startsWith 'secrets/'"
    action: kill
    reason: secrets by prompt
`

func TestStepsAreDecidedByKind(t *testing.T) {
	w, err := Parse("kb.yaml", []byte(routesWorkflow))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		call   Call
		want   warden.Verdict
		reason string
	}{
		{"tool", Call{Tool: "read_file", Args: map[string]any{"path": "a"}}, warden.Allow, ""},
		{"resource under the pattern", Call{Kind: KindResource, Tool: "kb://files/policies/refunds.md"}, warden.Allow, ""},
		{"resource the guard refuses", Call{Kind: KindResource, Tool: "kb://files/secrets/k.env"}, warden.StepUp, "guard is false"},
		{"resource outside the pattern", Call{Kind: KindResource, Tool: "file:///etc/passwd"}, warden.StepUp, `resource "file:///etc/passwd" is not in the workflow`},
		{"prompt", Call{Kind: KindPrompt, Tool: "summarize_file", Args: map[string]any{"path": "a"}}, warden.Allow, ""},
		{"prompt a rule kills", Call{Kind: KindPrompt, Tool: "summarize_file", Args: map[string]any{"path": "secrets/k"}}, warden.Kill, "secrets by prompt"},
		{"a prompt named like a tool is not the tool", Call{Kind: KindPrompt, Tool: "read_file"}, warden.StepUp, `prompt "read_file" is not in the workflow`},
		{"a tool named like a resource pattern is not a resource", Call{Tool: "kb://files/x"}, warden.StepUp, `tool "kb://files/x" is not in the workflow`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := w.Start(SessionInfo{ID: "s", Agent: "kb", Started: t0})
			d, next := w.Decide(st, tc.call, t0)
			if d.Verdict != tc.want || !strings.Contains(strings.Join(d.Reasons, "|"), tc.reason) {
				t.Fatalf("verdict %s %q, want %s with %q", d.Verdict, d.Reasons, tc.want, tc.reason)
			}
			if d.Verdict == warden.Allow {
				if next.Calls != 1 {
					t.Errorf("calls = %d after an allowed call, want 1", next.Calls)
				}
				// Only tools enter the history helpers' record.
				if _, kept := next.Tools[tc.call.Tool]; kept != (tc.call.Kind == "") {
					t.Errorf("history of %q kept = %v", tc.call.Tool, kept)
				}
			}
		})
	}
}

func TestAcceptsByKind(t *testing.T) {
	w, err := Parse("kb.yaml", []byte(routesWorkflow))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		kind, name string
		want       bool
	}{
		{KindTool, "read_file", true},
		{KindTool, "summarize_file", false},
		{KindPrompt, "summarize_file", true},
		{KindPrompt, "read_file", false},
		{KindResource, "kb://files/a/b", true},
		{KindResource, "kb://other", false},
	}
	for _, tc := range tests {
		if got := w.Accepts(tc.kind, tc.name); got != tc.want {
			t.Errorf("Accepts(%s, %q) = %v, want %v", tc.kind, tc.name, got, tc.want)
		}
	}
	if tools := w.Tools(); len(tools) != 1 || tools[0] != "read_file" {
		t.Errorf("Tools() = %q, want only the tool step's", tools)
	}
}

func TestTemplateMayMatch(t *testing.T) {
	tests := []struct {
		pattern, template string
		want              bool
	}{
		{"kb://files/*", "kb://files/{+path}", true},
		{"kb://files/policies/*", "kb://files/{+path}", true}, // some expansions match
		{"kb://files/policies/a.md", "kb://files/{+path}", true},
		{"kb://other/*", "kb://files/{+path}", false},
		{"*", "kb://files/{+path}", true},
		{"kb://files/*", "kb://files/fixed", true},
		{"kb://files/*", "kb://other/fixed", false},
		{"kb://files/a", "kb://{x}/b", false}, // a pattern with no wildcard must begin with the template's literal
	}
	for _, tc := range tests {
		if got := TemplateMayMatch(tc.pattern, tc.template); got != tc.want {
			t.Errorf("TemplateMayMatch(%q, %q) = %v, want %v", tc.pattern, tc.template, got, tc.want)
		}
	}
}

func TestStepNamesOneTarget(t *testing.T) {
	_, err := Parse("bad.yaml", []byte(`
agent: x
start: [s]
steps:
  - name: s
    tool: a
    resource: "kb://*"
    next: [s]
`))
	if err == nil || !strings.Contains(err.Error(), "more than one of tool, resource and prompt") {
		t.Fatalf("err = %v", err)
	}
}
