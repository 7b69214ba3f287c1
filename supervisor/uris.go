package supervisor

import (
	"errors"
	"strings"
	"unicode"
)

// checkURI refuses a resource URI that an upstream may resolve to another
// one than the policy reads: dot segments ("kb://files/a/../secrets/k"),
// empty segments ("kb://files//secrets/k"), backslashes, percent-encoded
// separators, dots or other unreserved characters ("%73ecrets"), control
// characters and spaces. Patterns and rules compare URIs as text, and an
// upstream that normalises the path (a file server does) or decodes it
// (mcp-go decodes a template's variables) would read a file they never
// saw; the agent can always send the URI in its plain form. The query and
// fragment are checked as path too: a template variable such as {+path}
// takes them in.
func checkURI(uri string) error {
	if strings.IndexFunc(uri, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) >= 0 {
		return errors.New("it has control characters or spaces")
	}
	if strings.ContainsRune(uri, '\\') {
		return errors.New("it has a backslash")
	}
	if err := checkEscapes(uri); err != nil {
		return err
	}
	// The segments after the scheme and authority, query and fragment
	// included.
	rest := uri
	if i := strings.Index(rest, "://"); i >= 0 {
		rest = rest[i+3:]
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			rest = rest[j+1:]
		} else {
			rest = ""
		}
	}
	// A dot segment ends at '/', and also at '?' or '#' for an upstream
	// that splits the query or fragment off before it resolves the path.
	// It is looked for everywhere after the scheme, the authority and an
	// opaque URI's body included: a template such as kb://{+path} or
	// kb:{+path} takes those in as its variable.
	afterScheme := uri
	if _, after, ok := strings.Cut(uri, ":"); ok {
		afterScheme = after
	}
	for _, seg := range strings.FieldsFunc(afterScheme, func(r rune) bool { return r == '/' || r == '?' || r == '#' }) {
		if seg == "." || seg == ".." {
			return errors.New("it has a '.' or '..' segment")
		}
	}
	segs := strings.Split(rest, "/")
	for i, seg := range segs {
		if seg == "" && i < len(segs)-1 {
			return errors.New("it has an empty segment ('//')")
		}
	}
	return nil
}

// checkEscapes refuses a malformed percent-escape, and one of a character
// that has a plain form (RFC 3986's unreserved characters) or that
// separates ('/', '\\').
func checkEscapes(uri string) error {
	for i := strings.IndexByte(uri, '%'); i >= 0; i = strings.IndexByte(uri, '%') {
		if i+2 >= len(uri) || !isHex(uri[i+1]) || !isHex(uri[i+2]) {
			return errors.New("it has a malformed percent-escape")
		}
		b := unhex(uri[i+1])<<4 | unhex(uri[i+2])
		if b == '/' || b == '\\' || b < 0x80 && isUnreserved(b) {
			return errors.New("it has a percent-encoded '/', '\\' or character that has a plain form")
		}
		uri = uri[i+3:]
	}
	return nil
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0
}
