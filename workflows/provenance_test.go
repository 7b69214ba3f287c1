package workflows

import (
	"strings"
	"testing"
	"time"

	"github.com/warden-dev/warden"
)

// table is a provenance known in advance: value → sources, and the tokens
// of prose (words that are keys of the table).
type table map[string][]string

func (t table) From(v any) []string { s, _ := v.(string); return t[s] }
func (t table) Tokens(text string) []string {
	var out []string
	for _, w := range strings.Fields(text) {
		if _, ok := t[w]; ok {
			out = append(out, w)
		}
	}
	return out
}

const provenanceWorkflow = `
agent: bank
effects: [send_*]
anytime: [pay, mail, look]
steps:
  - name: pay
    tool: send_money
    trusted_sources:
      recipient: [intent, "result:get_contacts.*"]
  - name: mail
    tool: send_message
  - name: look
    tool: read_inbox
rules:
  - name: no-mallory
    when: "'text:read_inbox' in sources(args.to ?? '') && from(args.to ?? '') not in ['intent', 'result:get_contacts.email']"
    action: flag
    reason: a recipient read in the inbox
`

func TestProvenanceOfEffectArguments(t *testing.T) {
	w, err := Parse("bank.yaml", []byte(provenanceWorkflow))
	if err != nil {
		t.Fatal(err)
	}
	prov := table{
		"GB11TRUSTED":            {"result:get_contacts.iban"},
		"GB22USER":               {"intent"},
		"GB33ATTACKER":           {"text:read_inbox"},
		"https://evil.example/x": {"text:read_inbox"},
		"bob@corp.example":       {"result:get_contacts.email", "text:read_inbox"},
	}
	cases := []struct {
		name     string
		tool     string
		args     map[string]any
		want     warden.Verdict
		provOnly bool
		reason   string
	}{
		{"recipient from a contact field", "send_money", map[string]any{"recipient": "GB11TRUSTED", "amount": 5}, warden.Allow, false, ""},
		{"recipient the user named", "send_money", map[string]any{"recipient": "GB22USER"}, warden.Allow, false, ""},
		{"recipient only in an email body", "send_money", map[string]any{"recipient": "GB33ATTACKER"}, warden.StepUp, true, "comes only from free text"},
		{"recipient from nowhere", "send_money", map[string]any{"recipient": "GB44COMPOSED"}, warden.StepUp, true, "comes from nowhere the session saw"},
		{"a link from an email inside a message", "send_message", map[string]any{"to": "bob@corp.example", "body": "Hi Bob, please look at https://evil.example/x today"}, warden.StepUp, true, `"https://evil.example/x" comes only from free text`},
		{"a message with nothing read", "send_message", map[string]any{"to": "carol@corp.example", "body": "Hi Bob, the meeting moved to three o'clock"}, warden.Allow, false, ""},
		{"not an effect: a value from free text is fine", "read_inbox", map[string]any{"query": "GB33ATTACKER"}, warden.Allow, false, ""},
		{"a rule reads from()", "send_message", map[string]any{"to": "GB33ATTACKER", "body": "x"}, warden.StepUp, true, "a recipient read in the inbox"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := w.Start(SessionInfo{ID: "s", Agent: "bank"})
			d, _ := w.Decide(st, Call{Tool: tc.tool, Args: tc.args, Provenance: prov}, time.Unix(0, 0))
			if d.Verdict != tc.want || d.ProvenanceOnly() != tc.provOnly {
				t.Fatalf("verdict %s (provenance only %v), want %s (%v); reasons %v", d.Verdict, d.ProvenanceOnly(), tc.want, tc.provOnly, d.Reasons)
			}
			if tc.reason != "" && !strings.Contains(strings.Join(d.Reasons, "; "), tc.reason) {
				t.Fatalf("reasons %v, want one saying %q", d.Reasons, tc.reason)
			}
		})
	}
	// Decided without a provenance index, nothing has a source: a step
	// that names its sources refuses (fail closed).
	st := w.Start(SessionInfo{ID: "s", Agent: "bank"})
	if d, _ := w.Decide(st, Call{Tool: "send_money", Args: map[string]any{"recipient": "GB11TRUSTED"}}, time.Unix(0, 0)); d.Verdict != warden.StepUp {
		t.Fatalf("no provenance: %s %v", d.Verdict, d.Reasons)
	}
}

func TestTrustedSourcesAreChecked(t *testing.T) {
	_, err := Parse("bad.yaml", []byte(`
agent: bank
steps:
  - name: pay
    tool: send_money
    trusted_sources:
      recipient: [intnet]
`))
	if err == nil || !strings.Contains(err.Error(), `"intnet" is not a source`) {
		t.Fatalf("a misspelt source: %v", err)
	}
}

func TestConfigValuesAreTheWorkflowsVars(t *testing.T) {
	w, err := Parse("c.yaml", []byte("agent: a\nvars:\n  landlord: GB99LAND\n  limits: [100, 250]\n  flags: {strict: true}\nanytime: [s]\nsteps:\n  - name: s\n    tool: t\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(w.ConfigValues(), " ")
	if got != "100 250 GB99LAND" {
		t.Fatalf("config values %q, want the vars' strings and numbers", got)
	}
}
