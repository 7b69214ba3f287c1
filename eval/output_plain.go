package eval

import "strings"

// plainText reports whether YAML surely reads text as a scalar (or fails),
// never as a mapping or a sequence, so that ParseOutput can keep the text
// without a YAML parse, which cost about 20 times the check on the
// AgentDojo corpus's prose results. It is conservative: false only sends
// the text on to the parser. It says false for any line that starts
// (after indentation) with an indicator that can open a collection, a
// tag, an anchor, an alias, a directive, a quoted or block scalar or a
// comment; for a colon that can end a key (followed by a blank, a line
// break or the end); for control characters other than tab, CR and LF;
// and for line breaks and marks that YAML 1.1 knows and ASCII does not
// (NEL, LS, PS, BOM). TestPlainTextAsYAML and FuzzPlainText hold it to
// goccy/go-yaml.
func plainText(text string) bool {
	lineStart := true
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '\n' || c == '\r':
			lineStart = true
			continue
		case lineStart && (c == ' ' || c == '\t'):
			continue
		case lineStart:
			lineStart = false
			if strings.IndexByte("-?:,[]{}#&*!|>'\"%@`", c) >= 0 {
				return false
			}
		}
		switch {
		case c == ':':
			if i+1 == len(text) {
				return false
			}
			switch text[i+1] {
			case ' ', '\t', '\n', '\r':
				return false
			}
		case c < 0x20 && c != '\t':
			return false
		case c == 0x7f:
			return false
		case c == 0xc2 && i+1 < len(text) && text[i+1] == 0x85: // NEL
			return false
		case c == 0xe2 && i+2 < len(text) && text[i+1] == 0x80 && (text[i+2] == 0xa8 || text[i+2] == 0xa9): // LS, PS
			return false
		case c == 0xef && i+2 < len(text) && text[i+1] == 0xbb && text[i+2] == 0xbf: // BOM
			return false
		}
	}
	return true
}
