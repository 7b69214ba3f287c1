package eval

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/goccy/go-yaml"
)

// maxParse bounds the text parsed as YAML: a huge result stays text rather
// than costing the decision path a large parse.
const maxParse = 1 << 20

// ParseOutput turns a tool's result into structure for bindings and result
// rules: structured (MCP structuredContent) when present; else the text
// parsed as JSON, then as YAML (YAML is a superset of JSON, and many tools
// print YAML-like text); else the text itself, the weakest source. Text
// that YAML surely reads as a scalar is not parsed as YAML (plainText).
func ParseOutput(text string, structured any) any {
	return parseOutput(text, structured, plainText)
}

// parseOutput is ParseOutput keeping, without a YAML parse, the texts that
// plain says YAML reads as a scalar.
func parseOutput(text string, structured any, plain func(string) bool) any {
	if structured != nil {
		return structured
	}
	trimmed := strings.TrimSpace(text)
	if trimmed == "" {
		return text
	}
	var v any
	if json.Unmarshal([]byte(trimmed), &v) == nil {
		return v
	}
	if len(trimmed) > maxParse || plain(text) {
		return text
	}
	if parseYAML(text, &v) == nil {
		switch v.(type) {
		case map[string]any, []any:
			return v
		}
	}
	return text
}

// parseYAML parses text that a tool returned, which an attacker may shape:
// a panic inside the YAML library must not take the decision path down.
func parseYAML(text string, v *any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: %v", r)
		}
	}()
	return yaml.Unmarshal([]byte(text), v)
}
