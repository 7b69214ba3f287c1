package supervisor

import (
	"errors"
	"strings"
	"unicode"
)

// checkURI refuses a resource URI that an upstream may resolve to another
// one than the policy reads: dot segments ("kb://files/a/../secrets/k"),
// backslashes, percent-encoded separators or dots, control characters and
// spaces. Patterns and rules compare URIs as text, and an upstream that
// normalises the path (a file server does) would read a file they never
// saw; the agent can always send the URI in its plain form.
func checkURI(uri string) error {
	if strings.IndexFunc(uri, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) >= 0 {
		return errors.New("it has control characters or spaces")
	}
	if strings.ContainsRune(uri, '\\') {
		return errors.New("it has a backslash")
	}
	lower := strings.ToLower(uri)
	for _, enc := range []string{"%2f", "%5c", "%2e"} {
		if strings.Contains(lower, enc) {
			return errors.New("it has a percent-encoded '/', '\\' or '.'")
		}
	}
	// The path's segments: after the scheme and authority, before any
	// query or fragment.
	rest := uri
	if i := strings.Index(rest, "://"); i >= 0 {
		rest = rest[i+3:]
	}
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		rest = rest[:i]
	}
	for _, seg := range strings.Split(rest, "/") {
		if seg == "." || seg == ".." {
			return errors.New("it has a '.' or '..' segment")
		}
	}
	return nil
}
