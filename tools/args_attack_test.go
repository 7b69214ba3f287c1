package tools

import (
	"encoding/json"
	"errors"
	"testing"
)

// TestFoldedKeysBehindComposedSchemas: a key folding to a declared
// property is refused wherever a validator would find the declaration:
// behind a $ref, in allOf/anyOf branches, in additionalProperties, in
// tuple items; a recursive schema ends.
func TestFoldedKeysBehindComposedSchemas(t *testing.T) {
	def := `"$defs":{"p":{"type":"object","properties":{"amount":{"type":"number"},"next":{"$ref":"#/$defs/p"}}}}`
	tests := []struct {
		name, schema, args string
		ok                 bool
	}{
		{"ref", `{"$ref":"#/$defs/p",` + def + `}`, `{"Amount":5}`, false},
		{"ref plain", `{"$ref":"#/$defs/p",` + def + `}`, `{"amount":5}`, true},
		{"recursive ref", `{"$ref":"#/$defs/p",` + def + `}`, `{"next":{"next":{"AMOUNT":5}}}`, false},
		{"allOf", `{"allOf":[{"properties":{"a":{}}},{"properties":{"bcc":{}}}]}`, `{"a":1,"BCC":"x"}`, false},
		{"anyOf", `{"anyOf":[{"properties":{"bcc":{}}},{"properties":{"cc":{}}}]}`, `{"CC":"x"}`, false},
		{"map of objects", `{"type":"object","additionalProperties":{"$ref":"#/$defs/p"},` + def + `}`, `{"x":{"Amount":5}}`, false},
		{"tuple", `{"type":"array","prefixItems":[{"properties":{"bcc":{}}}]}`, `[{"Bcc":"x"}]`, false},
	}
	var c ArgChecker
	for _, tc := range tests {
		schema := json.RawMessage(tc.schema)
		if tc.name == "tuple" {
			schema = json.RawMessage(`{"type":"object","properties":{"l":` + tc.schema + `}}`)
			tc.args = `{"l":` + tc.args + `}`
		}
		err := c.CheckKeys(schema, json.RawMessage(tc.args))
		if tc.ok != (err == nil) || err != nil && !errors.Is(err, ErrArgs) {
			t.Errorf("%s: CheckKeys(%s) = %v; want ok %v", tc.name, tc.args, err, tc.ok)
		}
	}
}
