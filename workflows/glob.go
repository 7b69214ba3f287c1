package workflows

import "strings"

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
