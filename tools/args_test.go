package tools

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

const refundSchema = `{"type":"object","properties":{
  "recipients":{"type":"array","items":{"type":"string"}},
  "bcc":{"type":"string"},
  "amount":{"type":"number","maximum":1000},
  "meta":{"type":"object","properties":{"note":{"type":"string"}}}},
  "required":["recipients"]}`

func TestArgCheckerRefusesWhatReadsTwoWays(t *testing.T) {
	tests := []struct {
		name, schema, args, want string // want "" means accepted
	}{
		{"plain", refundSchema, `{"recipients":["emma@x.com"],"amount":250}`, ""},
		{"no schema, plain", "", `{"a":1,"b":{"c":[1,{"d":2}]}}`, ""},
		{"empty arguments, no schema", "", ``, ""},
		{"no arguments against a schema with nothing required", `{"type":"object","properties":{"a":{"type":"string"}}}`, ``, ""},
		{"null arguments against a schema with nothing required", `{"type":"object","properties":{"a":{"type":"string"}}}`, `null`, ""},
		{"null arguments against a schema that requires", refundSchema, `null`, "input schema"},
		{"long s folds to s", refundSchema, `{"recipients":["emma@x.com"],"recipientſ":["attacker@evil.com"]}`, "one key"},
		{"kelvin sign folds to k", "", `{"kind":"a","\u212aind":"b"}`, "one key"},
		{"case variant, no schema", "", `{"to":"a","TO":"b"}`, "one key"},
		{"fold collision deep inside", "", `{"x":[{"y":{"Name":1,"name":2}}]}`, "arguments.x[0].y"},
		{"duplicate key", "", `{"to":"a","to":"b"}`, "appears twice"},
		{"undeclared key folding to a declared one", refundSchema, `{"recipients":["a"],"Bcc":"attacker@evil.com"}`, `would read it as the declared "bcc"`},
		{"undeclared fold, nested", refundSchema, `{"recipients":["a"],"meta":{"NOTE":"x"}}`, `arguments.meta`},
		{"schema violation", refundSchema, `{"recipients":["a"],"amount":1000000}`, "input schema"},
		{"missing required", refundSchema, `{"amount":1}`, "input schema"},
		{"not JSON", "", `{"a":`, "arguments"},
		{"two values", "", `{} {}`, "more than one"},
		{"schema that reaches for a file", `{"$ref":"file:///etc/passwd"}`, `{}`, "does not compile"},
	}
	var c ArgChecker
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantRefusal(t, c.Check(json.RawMessage(tc.schema), json.RawMessage(tc.args)), tc.want)
		})
	}
}

// TestCheckKeysSkipsOnlyTheSchema: with schema validation relaxed,
// arguments that break the schema pass, but keys read two ways do not.
func TestCheckKeysSkipsOnlyTheSchema(t *testing.T) {
	tests := []struct {
		name, args, want string // want "" means accepted
	}{
		{"schema violation passes", `{"recipients":["a"],"amount":1000000}`, ""},
		{"missing required passes", `{"amount":1}`, ""},
		{"fold collision refused", `{"recipients":["a"],"recipientſ":["b"]}`, "one key"},
		{"duplicate refused", `{"recipients":["a"],"recipients":["b"]}`, "appears twice"},
		{"undeclared fold refused", `{"recipients":["a"],"Bcc":"x"}`, `declared "bcc"`},
	}
	var c ArgChecker
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantRefusal(t, c.CheckKeys(json.RawMessage(refundSchema), json.RawMessage(tc.args)), tc.want)
		})
	}
}

// wantRefusal checks a checker's answer: accepted when want is "", else
// a refusal wrapping ErrArgs that says want.
func wantRefusal(t *testing.T, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
		return
	}
	if err == nil || !errors.Is(err, ErrArgs) || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v; want a refusal saying %q", err, want)
	}
}

// TestFoldKeyMatchesEncodingJSON: two keys share a folded form exactly when
// encoding/json would bind either to the same struct field.
func TestFoldKeyMatchesEncodingJSON(t *testing.T) {
	for _, k := range []string{"recipients", "recipientſ", "RECIPIENTS", "Recipients", "\u212aind", "kind", "straße", "STRASSE", "bcc", "Bcc", "ﬀ"} {
		var v struct {
			Recipients string `json:"recipients"`
			Kind       string `json:"kind"`
			Bcc        string `json:"bcc"`
		}
		raw, _ := json.Marshal(map[string]string{k: "x"})
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatal(err)
		}
		bound := v.Recipients != "" || v.Kind != "" || v.Bcc != ""
		folds := foldKey(k) == foldKey("recipients") || foldKey(k) == foldKey("kind") || foldKey(k) == foldKey("bcc")
		if bound != folds {
			t.Errorf("key %q: encoding/json binds it: %v; foldKey says it folds to a field: %v", k, bound, folds)
		}
	}
}

// FuzzCheckKeys: any JSON object Check accepts without a schema has keys
// that differ pairwise under folding, so no struct-binding reader can
// confuse two of them; nothing panics.
func FuzzCheckKeys(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":1,"A":2}`, `{"ſ":1,"s":2}`, `[{"x":{"y":1}}]`, `{"a":{"b":[1,2,{"c":null}]}}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var c ArgChecker
		if c.Check(nil, json.RawMessage(s)) != nil {
			return
		}
		var top map[string]json.RawMessage
		if json.Unmarshal([]byte(s), &top) != nil {
			return
		}
		seen := map[string]bool{}
		for k := range top {
			if seen[foldKey(k)] {
				t.Fatalf("accepted %q with two keys folding to %q", s, foldKey(k))
			}
			seen[foldKey(k)] = true
		}
	})
}

// BenchmarkArgChecker is the cost a call pays before its decision, with
// its tool's schema already compiled.
func BenchmarkArgChecker(b *testing.B) {
	var c ArgChecker
	s, a := json.RawMessage(refundSchema), json.RawMessage(`{"recipients":["emma@x.com","bob@x.com"],"amount":250,"meta":{"note":"q3"}}`)
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Check(s, a); err != nil {
			b.Fatal(err)
		}
	}
}

// TestArgCheckerCachesSchemas: a tool's schema is compiled on its first
// call only, the same schema arriving in another slice included, and a
// changed schema is compiled anew.
func TestArgCheckerCachesSchemas(t *testing.T) {
	var c ArgChecker
	args := json.RawMessage(`{"recipients":["a@x.com"],"amount":1}`)
	for i := range 50 {
		schema := json.RawMessage(refundSchema) // a fresh copy each call, as a catalog reload gives
		if err := c.Check(schema, args); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if n := c.compiles.Load(); n != 1 {
		t.Fatalf("compiled %d times for one schema over 50 calls, want 1", n)
	}
	if err := c.Check(json.RawMessage(`{"type":"object"}`), args); err != nil {
		t.Fatal(err)
	}
	if n := c.compiles.Load(); n != 2 {
		t.Fatalf("compiled %d times for two schemas, want 2", n)
	}
}

// FuzzDecodeArgs: the one-pass decoding gives the validator the value
// jsonschema.UnmarshalJSON gives (which the check used before), for every
// input it accepts.
func FuzzDecodeArgs(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1.50,"b":[1,{"c":null}],"d":"x"}`, `[]`, `[[],{}]`, `"s"`, `1e400`, `{"a":true,"b":false}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := decodeArgs(json.RawMessage(s))
		if err != nil {
			return
		}
		want, err := jsonschema.UnmarshalJSON(strings.NewReader(s))
		if err != nil {
			t.Fatalf("decodeArgs accepted %q, jsonschema.UnmarshalJSON did not: %v", s, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decodeArgs(%q) = %#v, jsonschema.UnmarshalJSON gives %#v", s, got, want)
		}
	})
}

// TestArgCheckerNoArguments: a call without arguments is checked as an
// empty object whichever way it says so, without the decoder.
func TestArgCheckerNoArguments(t *testing.T) {
	var c ArgChecker
	for _, tc := range []struct {
		schema string
		refuse bool
	}{
		{`{"type":"object"}`, false},
		{`{"type":"object","additionalProperties":false}`, false},
		{`{"type":"object","required":["x"]}`, true},
		{`{"type":"array"}`, true},
	} {
		for _, args := range []string{"", "null", "{}", " {} ", "\n{ }"} {
			err := c.Check(json.RawMessage(tc.schema), json.RawMessage(args))
			if (err != nil) != tc.refuse {
				t.Errorf("schema %s, arguments %q: %v, want refused %v", tc.schema, args, err, tc.refuse)
			}
		}
	}
	schema := json.RawMessage(`{"type":"object"}`)
	_ = c.Check(schema, nil) // compiled once, outside the count
	if n := testing.AllocsPerRun(100, func() { _ = c.Check(schema, json.RawMessage("{}")) }); n > 6 {
		t.Fatalf("%v allocations to check no arguments, want at most 6 (14 with the decoder and the walk for undeclared keys)", n)
	}
}

func BenchmarkArgCheckerNoArguments(b *testing.B) {
	var c ArgChecker
	s := json.RawMessage(`{"type":"object"}`)
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Check(s, json.RawMessage("{}")); err != nil {
			b.Fatal(err)
		}
	}
}
