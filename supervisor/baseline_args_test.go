package supervisor

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestArgsOf: a call's arguments as the baseline reads them, lists and
// numbers measured, anything but an object (or null) not read.
func TestArgsOf(t *testing.T) {
	// A call without arguments (most tools take none) is not decoded.
	if n := testing.AllocsPerRun(100, func() { _, _ = argsOf(json.RawMessage("null")) }); n > 4 {
		t.Fatalf("%v allocations to read no arguments, want at most 4 (11 when null was decoded and every map made)", n)
	}
	type reading struct {
		raw  string
		want *ToolArgs
	}
	for _, tc := range []reading{
		{`null`, &ToolArgs{Shapes: map[string]int{"": 1}}},
		{`{}`, &ToolArgs{Shapes: map[string]int{"": 1}}},
		{`{"to":"a","ok":true}`, &ToolArgs{Shapes: map[string]int{"ok:boolean,to:string": 1}}},
		{`{"to":["a","b"],"amount":-12.5,"x":null}`, &ToolArgs{Shapes: map[string]int{"amount:number,to:array,x:null": 1},
			MaxLen: map[string]int{"to": 2}, MaxNumber: map[string]float64{"amount": 12.5}}},
		{`[1]`, nil},
		{`"s"`, nil},
		{`{"a":`, nil},
	} {
		got, ok := argsOf(json.RawMessage(tc.raw))
		if ok != (tc.want != nil) || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("argsOf(%s) = %+v, %v; want %+v", tc.raw, got, ok, tc.want)
		}
	}
}

// FuzzArgsOfValue: reading the arguments mcp-go decoded gives what
// reading their encoding gives, for any JSON the agent sends.
func FuzzArgsOfValue(f *testing.F) {
	for _, s := range []string{`{"to":["a","b"],"amount":-12.5,"x":null,"o":{"k":1},"b":true,"s":"<"}`, `{}`, `null`, `[1]`, `{"a\u00e9":1e300,"b":[]}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		var v any
		if json.Unmarshal([]byte(raw), &v) != nil {
			return
		}
		enc, err := json.Marshal(v)
		if err != nil {
			return
		}
		got, done := argsOfValue(v)
		if !done {
			return
		}
		want, _ := argsOf(enc)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("argsOfValue = %+v; argsOf of %s = %+v", got, enc, want)
		}
	})
}

// BenchmarkArgsOf: a call's arguments read for the baseline, from their
// encoding and from mcp-go's decoding of them.
func BenchmarkArgsOf(b *testing.B) {
	raw := json.RawMessage(`{"customer":"c-1042","amount":125.5,"currency":"EUR","to":["a","b"],"memo":"refund for order 88231"}`)
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		b.Fatal(err)
	}
	b.Run("encoding", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			argsOf(raw)
		}
	})
	b.Run("value", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			argsOfValue(v)
		}
	})
}
