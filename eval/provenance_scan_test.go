package eval

import (
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// identifierPattern is what isIdentifier checks by hand.
var identifierPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]{0,63}$`)

// regexpTokens and regexpQuoted are tokens and quoted as plain regexp
// searches of the whole text: what the faster scans must find.
func regexpTokens(text string) []string {
	found := tokenPattern.FindAllString(text, -1)
	for i, f := range found {
		found[i] = strings.TrimRight(f, ".,;:!?")
	}
	return found
}

func regexpQuoted(text string) []string {
	var out []string
	for _, m := range quotedText.FindAllStringSubmatch(text, -1) {
		for _, g := range m[1:] {
			if g != "" {
				out = append(out, g)
			}
		}
	}
	return out
}

// scanTexts are the AgentDojo outputs, every string in them, and texts
// drawn at random from the characters the patterns turn on.
func scanTexts(t *testing.T) []string {
	t.Helper()
	var texts []string
	for _, o := range loadOutputs(t) {
		texts = append(texts, o.Output, o.Prompt)
		texts = append(texts, strings.Split(o.Output, "\n")...)
	}
	texts = append(texts, "", "_", "-a", "a-", "a_b-9", "9a", strings.Repeat("k", 64), strings.Repeat("k", 65), "é", "a b")
	pieces := []string{"a", "Z", "T", "0", "7", "12", "2024-05-01", " ", "\n", "\r\n", "\t", ".", ",", ":", "@", "-", "+", "/", "(", ")",
		"www", ".com", "http://", "https://", "x@y.co", "GB33 BUKB 2020 1555 5555 55", "+44 20 7946 0958", "555-123-4567",
		`"`, "'", "“", "”", "é", "10:30", "\v", "ftp://", "://", "www.\v", ". ", ".x", ".<", ".COM", "WWW.", "A", "Example", "1,000.50", "ab1", "1st", "!", "?", ";"}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var b strings.Builder
		for range r.IntN(30) {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		texts = append(texts, b.String())
	}
	return texts
}

// TestScansMatchRegexp holds tokens and quoted, which skip the lines the
// patterns cannot match, to what the patterns find in the whole text, and
// isIdentifier to its pattern.
func TestScansMatchRegexp(t *testing.T) {
	texts := scanTexts(t)
	found := 0
	for _, text := range texts {
		if got, want := tokens(text), regexpTokens(text); !slices.Equal(got, want) {
			t.Fatalf("tokens(%q) = %q, the pattern finds %q", text, got, want)
		}
		if got, want := quoted(text), regexpQuoted(text); !slices.Equal(got, want) {
			t.Fatalf("quoted(%q) = %q, the pattern finds %q", text, got, want)
		}
		if got, want := isIdentifier(text), identifierPattern.MatchString(text); got != want {
			t.Fatalf("isIdentifier(%q) = %v, the pattern says %v", text, got, want)
		}
		found += len(regexpTokens(text))
	}
	if found < len(texts) {
		t.Fatalf("%d tokens in %d texts: the texts test too little", found, len(texts))
	}
}

// FuzzTokenScan holds tokens and quoted, which match line by line from
// where a match can start, to the plain patterns over the whole text, on
// any input (TestScansMatchRegexp does so on the corpus and random texts).
func FuzzTokenScan(f *testing.F) {
	for _, s := range []string{"", "Pay GB33 BUKB 2020 1555 5555 55 by 2024-05-01 10:30.", "x@y.co, www.a.com/p?q 'a b' “c”", "+44 20 7946 0958\n555-123-4567", "a.\vb 1,000.50 ab1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if got, want := tokens(text), regexpTokens(text); !slices.Equal(got, want) {
			t.Fatalf("tokens(%q) = %q, the pattern finds %q", text, got, want)
		}
		if got, want := quoted(text), regexpQuoted(text); !slices.Equal(got, want) {
			t.Fatalf("quoted(%q) = %q, the pattern finds %q", text, got, want)
		}
	})
}
