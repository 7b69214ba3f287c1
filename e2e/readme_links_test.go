package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// TestDocsLinksResolve: every relative link in README.md and docs/*.md
// names a file of the repository and, with a #fragment into a Markdown
// file, one of that file's headings as GitHub anchors them. The README's
// Speed section sends readers into docs/speed.md by anchor; a heading
// renamed there would otherwise break the link silently.
func TestDocsLinksResolve(t *testing.T) {
	root := filepath.Dir(e2eDir(t))
	files, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, filepath.Join(root, "README.md"))
	link := regexp.MustCompile(`\]\(([^)\s]*)\)`)
	anchors := map[string]map[string]bool{}
	checked := 0
	for _, file := range files {
		text := readText(t, file)
		for _, m := range link.FindAllStringSubmatch(stripFences(text), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			path, frag, _ := strings.Cut(target, "#")
			dest := file
			if path != "" {
				dest = filepath.Join(filepath.Dir(file), path)
			}
			rel, _ := filepath.Rel(root, file)
			if _, err := os.Stat(dest); err != nil {
				t.Errorf("%s links to %s, which is not in the repository: %v", rel, target, err)
				continue
			}
			checked++
			if frag == "" || !strings.HasSuffix(dest, ".md") {
				continue
			}
			if anchors[dest] == nil {
				anchors[dest] = headingAnchors(readText(t, dest))
			}
			if !anchors[dest][frag] {
				t.Errorf("%s links to %s, but %s has no heading with the anchor #%s", rel, target, filepath.Base(dest), frag)
			}
		}
	}
	if checked == 0 {
		t.Fatal("found no relative links in README.md and docs/*.md")
	}
}

// readText reads a file the test needs.
func readText(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// stripFences blanks fenced code blocks, whose text is not Markdown.
func stripFences(text string) string {
	lines := strings.Split(text, "\n")
	in := false
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			in = !in
			lines[i] = ""
		} else if in {
			lines[i] = ""
		}
	}
	return strings.Join(lines, "\n")
}

// headingAnchors returns the anchors GitHub gives a Markdown file's
// headings: lower case, punctuation dropped, spaces as hyphens, and a
// repeated anchor numbered -1, -2, ...
func headingAnchors(text string) map[string]bool {
	heading := regexp.MustCompile(`^#{1,6}\s+(.*?)\s*$`)
	seen := map[string]int{}
	out := map[string]bool{}
	for _, l := range strings.Split(stripFences(text), "\n") {
		m := heading.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		slug := strings.Map(func(r rune) rune {
			switch {
			case r == ' ':
				return '-'
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				return unicode.ToLower(r)
			}
			return -1
		}, m[1])
		if n, ok := seen[slug]; ok {
			seen[slug] = n + 1
			out[slug+"-"+strconv.Itoa(n+1)] = true
			continue
		}
		seen[slug] = 0
		out[slug] = true
	}
	return out
}
