package eval

import (
	"encoding/json"
	"strings"

	"github.com/goccy/go-yaml"
)

// maxParse bounds the text parsed as YAML: a huge result stays text rather
// than costing the decision path a large parse.
const maxParse = 1 << 20

// ParseOutput turns a tool's result into structure for bindings and result
// rules: structured (MCP structuredContent) when present; else the text
// parsed as JSON, then as YAML (YAML is a superset of JSON, and many tools
// print YAML-like text); else the text itself, the weakest source.
func ParseOutput(text string, structured any) any {
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
	if len(trimmed) <= maxParse && yaml.Unmarshal([]byte(text), &v) == nil {
		switch v.(type) {
		case map[string]any, []any:
			return v
		}
	}
	return text
}
