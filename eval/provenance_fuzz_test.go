package eval

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// checkBounds fails when a session's provenance outgrows its caps.
func checkBounds(t *testing.T, p *Provenance) {
	t.Helper()
	if len(p.values) > maxValues || len(p.names) > maxSources || len(p.queue) > 2*maxValues+1 {
		t.Fatalf("over bounds: %d values, %d sources, %d queued", len(p.values), len(p.names), len(p.queue))
	}
	for _, n := range p.names {
		if len(n) > maxSourceName {
			t.Fatalf("source name of %d bytes: %.80q", len(n), n)
		}
	}
	if len(p.intentKeys) > maxValues || len(p.configKeys) > maxValues || len(p.intent) > maxIntent {
		t.Fatalf("intent or config over bounds: %d, %d keys, %d bytes", len(p.intentKeys), len(p.configKeys), len(p.intent))
	}
}

// FuzzObserve: any text a tool returns is read without panic and within
// bounds, and a value observed in structure (structuredContent, or JSON
// text) is found by From under its field's path.
func FuzzObserve(f *testing.F) {
	for _, o := range loadOutputs(f) {
		f.Add(o.Output, "sarah.baker@gmail.com")
	}
	f.Add("a: &a [x, x]\nb: [*a, *a, *a]\n", "x")
	f.Add("{'Le Marais Boutique': 'Rating: 4.2'}", "Le Marais Boutique")
	f.Add("send to: DE89 3704 0044 0532 0130 00", "  1,000.00 ")
	f.Add("\xff\xfe: [", "HTTPS://Example.com/")
	f.Add(`{"a": 1e400}`, "+44 (0) 20-7946 0958")
	f.Fuzz(func(t *testing.T, text, value string) {
		p := NewProvenance(text, []string{value})
		p.Observe("t", nil, text)
		checkBounds(t, p)
		p.From(text)
		p.From(value)

		p.Observe("s", map[string]any{"f": value, "g": []any{value}, "h": map[string]any{value: "data key"}}, "")
		checkBounds(t, p)
		if strings.TrimSpace(value) == "" {
			return
		}
		got := p.From(value)
		want := []string{"result:s.f", "result:s.g", "config"}
		if !isIdentifier(value) {
			want = append(want, "result:s.h") // a key that is data
		}
		for _, w := range want {
			if !slices.Contains(got, w) {
				t.Fatalf("From(%q) = %q, missing %s", value, got, w)
			}
		}
		if !utf8.ValidString(value) {
			return // JSON would replace the invalid bytes
		}
		doc, err := json.Marshal(map[string]any{"f": value})
		if err != nil {
			t.Fatal(err)
		}
		p.Observe("j", nil, string(doc))
		if got := p.From(value); !slices.Contains(got, "result:j.f") {
			t.Fatalf("JSON %s: From(%q) = %q, missing result:j.f", doc, value, got)
		}
	})
}

// FuzzIntent: every token of any intent is from the intent, however it is
// spelled back (normalize is applied to both sides), and lookups of
// arbitrary values never panic.
func FuzzIntent(f *testing.F) {
	for _, o := range loadOutputs(f) {
		f.Add(o.Prompt, "Paris")
	}
	f.Add(`Pay $1,250.00 to CH93 0076 2011 6238 5295 7, mail "Report" to Bob@Corp.com`, "bob@corp.com")
	f.Add("İstanbul ß ǅ", "i̇stanbul")
	f.Fuzz(func(t *testing.T, intent, value string) {
		p := NewProvenance(intent, nil)
		checkBounds(t, p)
		p.From(value)
		p.From([]any{value, intent})
		if len(intent) > maxIntent {
			return
		}
		for _, tok := range tokens(intent) {
			if got := p.From(tok); !slices.Contains(got, "intent") {
				t.Fatalf("token %q of intent %q: From = %q", tok, intent, got)
			}
		}
	})
}
