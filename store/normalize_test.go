package store

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// TestNormalizeFastIsTheRoundTrip: for every event the fast path takes,
// it gives exactly what the JSON round trip gives (so the hash Verify
// recomputes is unchanged), and it leaves to the round trip the events it
// cannot do (invalid UTF-8, a time outside UTC or years 0-9999, bad JSON).
func TestNormalizeFastIsTheRoundTrip(t *testing.T) {
	now := time.Now().UTC() // with a monotonic reading
	for _, tc := range []struct {
		name string
		ev   Event
		fast bool
	}{
		{"plain", Event{Session: "s", Kind: KindCall, Tool: "t", Time: now, Args: json.RawMessage(`{"a":1}`), Reasons: []string{"r"}}, true},
		{"nil args and data", Event{Session: "s", Kind: KindCall, Time: now}, true},
		{"empty reasons", Event{Session: "s", Kind: KindCall, Time: now, Reasons: []string{}}, true},
		{"spaced JSON", Event{Kind: KindCall, Time: now, Args: json.RawMessage(" { \"a\" : [ 1 , 2.50, 1e3 ] } "), Data: json.RawMessage("\n null \n")}, true},
		{"HTML and line separators in JSON", Event{Kind: KindCall, Time: now, Args: json.RawMessage(`{"p":"<a&b> \u2028` + "\u2029\u2028" + `"}`)}, true},
		{"spaces in strings only", Event{Kind: KindCall, Time: now, Args: json.RawMessage(`{"a b":"c d","e":"\" f\\","g":[" "]}`)}, true},
		{"space after an escaped backslash", Event{Kind: KindCall, Time: now, Args: json.RawMessage(`{"a":"\\", "b":1}`)}, true},
		{"escapes kept", Event{Kind: KindCall, Time: now, Args: json.RawMessage(`"\u00e9\n\"x\""`)}, true},
		{"non-ASCII strings", Event{Kind: KindCall, Time: now, Tool: "café", Error: "\u2028<b>", Reasons: []string{"ünïcode"}}, true},
		{"zero time", Event{Kind: KindCall}, true},
		{"nanoseconds", Event{Kind: KindCall, Time: time.Unix(0, 1700000000123456789).UTC()}, true},
		{"invalid UTF-8 in a string", Event{Kind: KindCall, Time: now, Error: "caf\xe9"}, false},
		{"invalid UTF-8 in a reason", Event{Kind: KindCall, Time: now, Reasons: []string{"\xff"}}, false},
		{"invalid UTF-8 in JSON", Event{Kind: KindCall, Time: now, Args: json.RawMessage("\"caf\xe9\"")}, true},
		{"local time", Event{Kind: KindCall, Time: time.Unix(1700000000, 5).In(time.FixedZone("X", 3600))}, false},
		{"year past 9999", Event{Kind: KindCall, Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, false},
		{"bad JSON", Event{Kind: KindCall, Time: now, Args: json.RawMessage(`{"a":`)}, false},
		{"empty JSON", Event{Kind: KindCall, Time: now, Data: json.RawMessage{}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := normalizeFast(tc.ev)
			if ok != tc.fast {
				t.Fatalf("fast path taken: %v, want %v", ok, tc.fast)
			}
			want, err := roundTrip(tc.ev)
			if !ok {
				if n, nerr := normalize(tc.ev); !reflect.DeepEqual(n, want) || (nerr == nil) != (err == nil) {
					t.Fatalf("normalize = %+v, %v; want the round trip's %+v, %v", n, nerr, want, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("the round trip fails (%v) where the fast path does not", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("fast path:\n%+v\nround trip:\n%+v", got, want)
			}
		})
	}
}

// BenchmarkNormalize: the fast path against the round trip, for a call
// event as the supervisor records it.
func BenchmarkNormalize(b *testing.B) {
	ev := Event{Session: "s-1042", Kind: KindCall, CallID: "c-88231", Upstream: "billing", Tool: "refund", Time: time.Now().UTC(),
		Args:    json.RawMessage(`{"customer":"c-1042","amount":125.5,"currency":"EUR","memo":"refund for order 88231"}`),
		Verdict: "allow", Reasons: []string{"in workflow"}, Data: json.RawMessage(`{"step":"refund","provenance":{"customer":"user"}}`)}
	for _, c := range []struct {
		name string
		fn   func(Event) (Event, error)
	}{{"fast", normalize}, {"round trip", roundTrip}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.fn(ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestNormalizeKeepsCanonicalJSON: Args and Data that are canonical
// already (as json.Marshal writes them) are kept, not copied: normalising
// such an event allocates nothing.
func TestNormalizeKeepsCanonicalJSON(t *testing.T) {
	ev := Event{Session: "s", Kind: KindCall, Tool: "t", Time: time.Now().UTC(),
		Args: json.RawMessage(`{"memo":"a \"quoted\" note","n":[1,2]}`), Data: json.RawMessage(`{"steps":["a"]}`)}
	most := 0.0 // 2 when Args and Data were copied
	if raceDetector {
		most = 1
	}
	if n := testing.AllocsPerRun(100, func() {
		if _, err := normalize(ev); err != nil {
			t.Fatal(err)
		}
	}); n > most {
		t.Fatalf("%v allocations to normalise an event whose JSON is canonical, want at most %v", n, most)
	}
}
