package eval

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/expr-lang/expr"
)

// Helper functions for guards and bindings. They are pure (no env), so
// they are registered once per compile and cost nothing at run time.

var (
	urlPattern   = regexp.MustCompile(`(?i)\b(?:https?://|www\.)[^\s<>"'()\[\]{}]+|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|org|net|io|dev|ai|co|uk|de|fr|ch|edu|gov)(?:/[^\s<>"'()\[\]{}]*)?`)
	emailPattern = regexp.MustCompile(`(?i)\b[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}\b`)
)

// funcOptions registers the helpers for one compiled program; the costly
// ones remember their answers for it (memo).
func funcOptions() []expr.Option {
	type hostOf struct {
		h   string
		err error
	}
	hosts := newMemo(func(s string) hostOf { h, err := host(s); return hostOf{h, err} })
	urls := newMemo(func(s string) []any { return findAll(urlPattern, s) })
	emails := newMemo(func(s string) []any { return findAll(emailPattern, s) })
	return []expr.Option{
		expr.Function("rows", func(p ...any) (any, error) { return rows(p[0]), nil }, new(func(any) []any)),
		expr.Function("urls", func(p ...any) (any, error) { return found(urls, p[0]), nil }, new(func(any) []any)),
		expr.Function("emails", func(p ...any) (any, error) { return found(emails, p[0]), nil }, new(func(any) []any)),
		expr.Function("host", func(p ...any) (any, error) {
			s, ok := p[0].(string)
			if !ok {
				return host(p[0])
			}
			h := hosts.get(s)
			return h.h, h.err
		}, new(func(any) string)),
	}
}

// found is findAll through a memo: a copy of the remembered list, so that
// no two calls share one.
func found(m *memo[[]any], x any) []any {
	s, ok := x.(string)
	if !ok {
		return []any{}
	}
	return slices.Clone(m.get(s))
}

// rows makes a result iterable: a list as is, one object as a list of one,
// anything else (text, nil) as an empty list.
func rows(x any) []any {
	switch t := x.(type) {
	case []any:
		return t
	case map[string]any:
		return []any{t}
	}
	return []any{}
}

// findAll extracts matches from text (free text: the weakest source).
func findAll(re *regexp.Regexp, x any) []any {
	s, ok := x.(string)
	if !ok {
		return []any{}
	}
	found := re.FindAllString(s, -1)
	out := make([]any, 0, len(found))
	for _, f := range found {
		out = append(out, strings.TrimRight(f, ".,;:!?"))
	}
	return out
}

// host is the host a URL points to, lower-cased, in ASCII, without port,
// a trailing dot or a leading "www.". Anything but a string is no URL and has no host
// (""). A string that is not a URL every client reads the same way
// (urlparse.go) is an error, which fails the guard or rule closed.
func host(x any) (string, error) {
	s, ok := x.(string)
	if !ok {
		return "", nil
	}
	h, err := parseHost(s)
	if err != nil {
		return "", fmt.Errorf("host(): %w", err)
	}
	// "evil.com." is evil.com to DNS and to every client: one host, one
	// spelling, or a guard comparing names is walked around with a dot.
	h = strings.TrimSuffix(h, ".")
	if h == "" || strings.HasSuffix(h, ".") {
		return "", fmt.Errorf("host(): %w: %q: an empty label", errURL, clip(s))
	}
	return strings.TrimPrefix(h, "www."), nil
}
