package workflows

import (
	"strings"

	"github.com/yosida95/uritemplate/v3"
)

// toolPattern matches tool names: an exact name, or a glob where * matches
// any run of characters (including '/', since upstream prefixes use it) and
// ? one character.
type toolPattern struct {
	src  string
	glob bool
}

func newToolPattern(s string) toolPattern {
	return toolPattern{src: s, glob: strings.ContainsAny(s, "*?")}
}

func (p toolPattern) match(name string) bool {
	if !p.glob {
		return p.src == name
	}
	return globMatch(p.src, name)
}

// globMatch is an iterative wildcard match with backtracking on the last star.
func globMatch(pat, s string) bool {
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(pat) && (pat[pi] == '?' || pat[pi] == s[si]):
			pi++
			si++
		case pi < len(pat) && pat[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(pat) && pat[pi] == '*' {
		pi++
	}
	return pi == len(pat)
}

// Glob reports whether name matches pattern, where * matches any run of
// characters (including '/') and ? one character: the workflow's own
// pattern syntax, which agents' resource patterns share.
func Glob(pattern, name string) bool { return newToolPattern(pattern).match(name) }

// TemplateMayMatch reports whether some URI of an RFC 6570 URI template
// could match pattern: their literal beginnings (the template's up to its
// first expression, the pattern's up to its first wildcard) agree. A
// template without expressions is a URI and is matched as one. It errs
// towards yes; every read is still decided on its own URI.
func TemplateMayMatch(pattern, template string) bool {
	i := strings.IndexByte(template, '{')
	if i < 0 {
		return Glob(pattern, template)
	}
	lit := template[:i]
	p := pattern
	if j := strings.IndexAny(p, "*?"); j >= 0 {
		p = p[:j]
	} else {
		// No wildcard: the pattern is one URI, which is an expansion or not.
		t, err := uritemplate.New(template)
		return err == nil && t.Regexp().MatchString(p)
	}
	return strings.HasPrefix(p, lit) || strings.HasPrefix(lit, p)
}
