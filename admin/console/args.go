package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// readable writes JSON as an approver should read it: compact, every
// string decoded (an agent may spell "rm" as "\u0072\u006d", and Go
// spells "<" as "\u003c") and then re-escaped only where JSON needs it or
// where visible must spell a character out. Keys stay in their order and
// a repeated key stays repeated, so the text means what the call carries.
func readable(b []byte) (string, error) {
	if !json.Valid(b) {
		return "", errors.New("arguments are not one JSON value")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out strings.Builder
	// Per open object or array: whether it is an object, and how many
	// tokens it has had (in an object, keys and values alternate).
	type level struct {
		object bool
		n      int
	}
	var stack []level
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", fmt.Errorf("arguments: %w", err)
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			out.WriteRune(rune(d))
			continue
		}
		if len(stack) > 0 {
			top := &stack[len(stack)-1]
			switch {
			case top.object && top.n%2 == 1:
				out.WriteByte(':')
			case top.n > 0:
				out.WriteByte(',')
			}
			top.n++
		}
		switch v := tok.(type) {
		case json.Delim:
			stack = append(stack, level{object: v == '{'})
			out.WriteRune(rune(v))
		case string:
			r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
			out.WriteString(`"` + visible(r.Replace(v)) + `"`)
		case json.Number:
			out.WriteString(v.String())
		case bool:
			fmt.Fprint(&out, v)
		case nil:
			out.WriteString("null")
		}
	}
	return out.String(), nil
}
