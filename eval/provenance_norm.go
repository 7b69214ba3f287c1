package eval

import (
	"encoding/json"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// Normal forms of values, so that a value is recognised however a tool or
// an agent spells it: an email or a host in any case, a URL with or without
// its scheme or trailing slash, an IBAN with or without spaces, a number as
// 100, "100" or "100.00". A value has one primary form (its kind and
// normalised text) and, when it reads as a phone number, a digits-only form
// beside it.

// Kinds of normal form. Each kind is its own namespace: "100" the number
// and "100" some other string never share a key by accident of spelling.
const (
	kindExact  byte = 's' // any other string, trimmed, case kept
	kindEmail  byte = 'e'
	kindURL    byte = 'u'
	kindIBAN   byte = 'i'
	kindNumber byte = 'n'
	kindDigits byte = 'd' // a phone-like value, digits only
)

var (
	ibanShape   = regexp.MustCompile(`^[A-Za-z]{2}[0-9]{2}(?: ?[A-Za-z0-9]{1,4})+$`)
	numberShape = regexp.MustCompile(`^[+-]?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?$`)
	phoneShape  = regexp.MustCompile(`^\+?[0-9 ()./-]{7,}$`)
	emailShape  = regexp.MustCompile(`^(?:` + emailPattern.String() + `)$`)
	urlShape    = regexp.MustCompile(`^(?:` + urlPattern.String() + `)$`)

	// tokenPattern finds the reusable values in free text, in order of
	// preference where they overlap: emails, URLs and hosts (urlPattern
	// of funcs.go), IBANs (grouped by four or not), dates with an
	// optional time, international or US phone numbers, ids that mix
	// letters and digits, and numbers (decimals, thousands separators).
	tokenPattern = regexp.MustCompile(strings.Join([]string{
		emailPattern.String(),
		urlPattern.String(),
		`\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b`,
		`\b[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[ T][0-9]{2}:[0-9]{2}(?::[0-9]{2})?)?\b`,
		`\+[0-9]{1,3}(?:[ .-]?\(?[0-9]{1,4}\)?){2,6}`,
		`\b[0-9]{3}-[0-9]{3}-[0-9]{4}\b`,
		`\b(?:[A-Za-z]+[0-9]|[0-9]+[A-Za-z])[A-Za-z0-9]*\b`,
		`\b(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?\b`,
	}, "|"))
)

// normalize returns the primary normal form of a string value: its kind
// and text. An empty (or all-space) string has none (ok false): it names
// nothing an agent could reuse.
func normalize(s string) (kind byte, norm string, ok bool) {
	t := strings.TrimSpace(s)
	// Cheap tests first: From runs on every argument of every call.
	digit := strings.ContainsAny(t, "0123456789")
	switch {
	case t == "":
		return 0, "", false
	case strings.IndexByte(t, '@') > 0 && emailShape.MatchString(t):
		return kindEmail, strings.ToLower(t), true
	case digit && len(t) >= 15 && ibanShape.MatchString(t):
		if compact := strings.ToUpper(strings.ReplaceAll(t, " ", "")); len(compact) >= 15 && len(compact) <= 34 {
			return kindIBAN, compact, true
		}
	case digit && numberShape.MatchString(t):
		if n, ok := canonicalNumber(t); ok {
			return kindNumber, n, true
		}
	case strings.IndexByte(t, '.') > 0 && urlShape.MatchString(t):
		if u, ok := canonicalURL(t); ok {
			return kindURL, u, true
		}
	}
	return kindExact, t, true
}

// phoneDigits is the digits of a phone-like value written with separators
// ("+44 123 456-789"), so that any spelling of the number matches. A bare
// run of digits is a number and needs no second form.
func phoneDigits(s string) (string, bool) {
	t := strings.TrimSpace(s)
	if len(t) < 7 || !phoneShape.MatchString(t) || !strings.ContainsAny(t, "+ ()./-") {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(t); i++ {
		if t[i] >= '0' && t[i] <= '9' {
			b.WriteByte(t[i])
		}
	}
	if b.Len() < 7 {
		return "", false
	}
	return b.String(), true
}

// canonicalNumber writes a decimal number exactly, without a float: sign,
// integer part without leading zeros, fraction without trailing zeros
// ("100", "100.0", "100.00" and "1,000" → "1000"). A float would make two
// long account numbers equal. A string with a leading zero ("007",
// "05") is an id, not a number, and keeps its exact spelling.
func canonicalNumber(t string) (string, bool) {
	t = strings.ReplaceAll(t, ",", "")
	neg := false
	switch {
	case strings.HasPrefix(t, "-"):
		neg, t = true, t[1:]
	case strings.HasPrefix(t, "+"):
		t = t[1:]
	}
	whole, frac, _ := strings.Cut(t, ".")
	if len(whole) > 1 && whole[0] == '0' {
		return "", false
	}
	frac = strings.TrimRight(frac, "0")
	n := whole
	if frac != "" {
		n += "." + frac
	}
	if n == "0" {
		neg = false
	}
	if neg {
		n = "-" + n
	}
	return n, true
}

// numberOf is the normal form of a number that a decoder produced (JSON's
// float64 and json.Number, YAML's integers). NaN and infinities are no
// value anyone reuses.
func numberOf(v any) (string, bool) {
	var s string
	switch n := v.(type) {
	case float64:
		if math.IsNaN(n) || math.IsInf(n, 0) {
			return "", false
		}
		s = strconv.FormatFloat(n, 'f', -1, 64)
	case float32:
		return numberOf(float64(n))
	case int:
		s = strconv.FormatInt(int64(n), 10)
	case int64:
		s = strconv.FormatInt(n, 10)
	case int32:
		s = strconv.FormatInt(int64(n), 10)
	case uint64:
		s = strconv.FormatUint(n, 10)
	case uint:
		s = strconv.FormatUint(uint64(n), 10)
	case uint32:
		s = strconv.FormatUint(uint64(n), 10)
	case json.Number:
		s = string(n)
		if !numberShape.MatchString(s) {
			return "", false
		}
	default:
		return "", false
	}
	return canonicalNumber(s)
}

// canonicalURL is a URL with its host lower-cased and its trailing slash
// dropped. http, https and no scheme at all ("www.example.com", as text
// writes it) are one form: the value names the same place, and whether an
// agent adds the scheme says nothing about where the value came from.
// Other schemes keep theirs. The path, query and fragment keep their case.
func canonicalURL(t string) (string, bool) {
	raw := t
	scheme, rest, ok := cutScheme(t)
	switch {
	case !ok:
		raw = "https://" + t
	case strings.EqualFold(scheme, "http") || strings.EqualFold(scheme, "https"):
		raw = "https:" + rest
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", false
	}
	var b strings.Builder
	if ok && !strings.EqualFold(scheme, "http") && !strings.EqualFold(scheme, "https") {
		b.WriteString(strings.ToLower(scheme))
		b.WriteString("://")
	}
	if u.User != nil {
		b.WriteString(u.User.String())
		b.WriteByte('@')
	}
	b.WriteString(strings.ToLower(u.Host))
	b.WriteString(strings.TrimRight(u.EscapedPath(), "/"))
	if u.RawQuery != "" || u.ForceQuery {
		b.WriteByte('?')
		b.WriteString(u.RawQuery)
	}
	if u.Fragment != "" {
		b.WriteByte('#')
		b.WriteString(u.EscapedFragment())
	}
	return b.String(), true
}

// tokens are the reusable values embedded in free text, with the
// punctuation that ends a sentence trimmed off.
//
// tokenPattern is most of the cost of indexing a result, so it runs only
// where a match can start. No match spans a line (none of its patterns
// takes a newline), so each line is matched on its own (lineTokens).
func tokens(text string) []string {
	var found []string
	for line := range strings.Lines(text) {
		found = lineTokens(line, found)
	}
	return found
}

// lineTokens appends the matches of tokenPattern in one line, as one
// search of the whole line finds them, searching only from where the next
// match can start. Every match holds what tokenStart finds, and holds
// whitespace only after a digit (an IBAN's, a date's or a phone number's
// groups), which tokenStart finds too; so no match starts before the word
// of the first such place after the last match, and each search starts
// there. \b is the only thing a match sees outside itself: whitespace
// before a cut, the line's start, or a last match ending in a non-word
// byte look to it as the cut's start does. Where the last match ends in a
// word byte and the next place is in the same word, the rest is searched
// as one with the search before it, from where that one began.
func lineTokens(line string, found []string) []string {
	cut, pos := 0, 0 // where the last search began, and where its match ended
	for {
		q := tokenStart(line[pos:])
		if q < 0 {
			return found
		}
		q += pos
		from := pos
		if ws := strings.LastIndexAny(line[pos:q], " \t\n\f\r"); ws >= 0 {
			from = pos + ws + 1
		} else if pos > 0 && isWordByte(line[pos-1]) {
			for _, m := range tokenPattern.FindAllStringIndex(line[cut:], -1) {
				if cut+m[0] >= pos {
					found = append(found, strings.TrimRight(line[cut+m[0]:cut+m[1]], ".,;:!?"))
				}
			}
			return found
		}
		m := tokenPattern.FindStringIndex(line[from:])
		if m == nil {
			return found
		}
		found = append(found, strings.TrimRight(line[from+m[0]:from+m[1]], ".,;:!?"))
		cut, pos = from, from+m[1]
	}
}

// isWordByte reports whether \b counts b as a word character.
func isWordByte(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b == '_'
}

// tokenStart is the index of the first place in s that every match of
// tokenPattern holds one of, -1 for none: a digit (numbers, dates, phones,
// IBANs, ids), an '@' (emails), "://" (a URL's scheme) or a '.' followed
// by a character a URL may hold (a host's dot). A YAML line's "key: value"
// or a sentence's final ". " is not one.
func tokenStart(s string) int {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9', c == '@':
			return i
		case c == ':' && strings.HasPrefix(s[i:], "://"):
			return i
		case c == '.' && i+1 < len(s) && !strings.ContainsRune(" \t\n\f\r<>\"'()[]{}", rune(s[i+1])): // not \s nor a URL's end
			return i
		}
	}
	return -1
}
