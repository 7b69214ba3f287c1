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
