package store

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// FuzzEventJSON: the event encoder writes what json.Marshal writes, byte
// for byte (the chain's hashes are of those bytes), or leaves the event to
// encoding/json.
func FuzzEventJSON(f *testing.F) {
	f.Add("s-1", "call", "read_file", `{"p":"a b"}`, `{"steps":["x"]}`, "caf\xe9 <b>&\u2028\x01\b\f\n\r\t\"\\", "", int64(1700000000123456789), uint64(3), true)
	f.Add("", "", "", "", "null", "\u2029", "abc", int64(0), uint64(0), false)
	f.Add("s", "result", "t", ` { "a" : 1 } `, `[1,"<"]`, "", "d", int64(-62135596800000000), uint64(1), false)
	f.Fuzz(func(t *testing.T, session, kind, tool, args, data, text, digest string, nanos int64, seq uint64, ok bool) {
		ev := Event{Seq: seq, Session: session, Time: time.Unix(0, nanos).UTC(), Kind: kind, CallID: text, Upstream: text, Tool: tool,
			Verdict: kind, Reasons: []string{text, tool}, OK: ok, Error: text, Size: int(seq >> 1), LatencyUS: nanos,
			DataSHA256: digest, Prev: text, Hash: tool}
		if args != "" {
			ev.Args = json.RawMessage(args)
		}
		if data != "" {
			ev.Data = json.RawMessage(data)
		}
		if text == "" {
			ev.Reasons = nil
		}
		want, err := json.Marshal(&ev)
		got, fast := appendEventJSON(nil, &ev)
		if !fast {
			return
		}
		if err != nil {
			t.Fatalf("json.Marshal fails (%v) where the encoder wrote\n%s", err, got)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("encoder:\n%s\njson.Marshal:\n%s", got, want)
		}
	})
}

// TestEventJSONLeavesWhatItCannotDo: events whose time or JSON it cannot
// write as encoding/json does are left to encoding/json.
func TestEventJSONLeavesWhatItCannotDo(t *testing.T) {
	now := time.Now().UTC()
	for _, tc := range []struct {
		name string
		ev   Event
		fast bool
	}{
		{"plain", Event{Time: now, Args: json.RawMessage(`{"a":1}`)}, true},
		{"local time", Event{Time: time.Unix(1700000000, 0).In(time.FixedZone("X", 3600))}, false},
		{"year past 9999", Event{Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, false},
		{"spaced args", Event{Time: now, Args: json.RawMessage(`{"a": 1}`)}, false},
		{"HTML in data", Event{Time: now, Data: json.RawMessage(`"<"`)}, false},
		{"bad JSON", Event{Time: now, Args: json.RawMessage(`{"a":`)}, false},
		{"empty JSON", Event{Time: now, Data: json.RawMessage{}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, fast := appendEventJSON(nil, &tc.ev); fast != tc.fast {
				t.Fatalf("encoded: %v, want %v", fast, tc.fast)
			}
		})
	}
}

// BenchmarkSealEvent: sealing a call event as the supervisor records it.
func BenchmarkSealEvent(b *testing.B) {
	ev := Event{Seq: 12, Session: "s-1042", Kind: KindCall, CallID: "c-88231", Upstream: "billing", Tool: "refund", Time: time.Now().UTC().Round(0),
		Args:    json.RawMessage(`{"customer":"c-1042","amount":125.5,"currency":"EUR","memo":"refund for order 88231"}`),
		Verdict: "allow", Reasons: []string{"in workflow"}, Data: json.RawMessage(`{"steps":["refund"],"provenance":{"customer":["user"]}}`),
		DataSHA256: "9f2c", Prev: "3b8e1f0c2d4a5b6c7d8e9f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e"}
	b.ReportAllocs()
	for b.Loop() {
		e := ev
		if _, err := sealEvent(&e); err != nil {
			b.Fatal(err)
		}
	}
}

// TestAppendHashesAsTheRoundTrip: events appended through the log are
// chained with the hashes the plain path gives (the JSON round trip, then
// json.Marshal), so the fast normalising and sealing change no hash that
// Verify recomputes, and Verify finds the chain intact.
func TestAppendHashesAsTheRoundTrip(t *testing.T) {
	ctx := t.Context()
	db, _ := openTest(t)
	at := time.Date(2026, 12, 1, 8, 0, 0, 123456789, time.UTC)
	mustCreate(t, db, "s", "a", at)
	prev := ""
	for i, ev := range []Event{
		{Kind: KindCall, CallID: "c1", Upstream: "u", Tool: "t", Time: at, Args: json.RawMessage(`{"a":"b c","n":[1,2.5]}`), Verdict: "allow"},
		{Kind: KindResult, CallID: "c1", Tool: "t", Time: at, OK: true, Size: 12, LatencyUS: 345, Data: json.RawMessage(`{"text":"<b>&é\u2028"}`), Verdict: "allow"},
		{Kind: KindCall, Time: at, Args: json.RawMessage(" { \"x\" : null } "), Reasons: []string{"r <1>", "caf\xe9"}, Error: "e\n\t\"q\""},
		{Kind: KindSignal, Time: at.In(time.FixedZone("X", 3600)), Reasons: []string{}},
	} {
		got, err := db.Append(ctx, "s", ev)
		if err != nil {
			t.Fatal(err)
		}
		want := ev
		want.Session, want.Time, want.Seq, want.Prev = "s", ev.Time.UTC(), uint64(i+1), prev
		want, err = roundTrip(want)
		if err != nil {
			t.Fatal(err)
		}
		h, err := hashEvent(want)
		if err != nil {
			t.Fatal(err)
		}
		if got.Hash != h {
			t.Fatalf("event %d: hash %s, the round trip gives %s", i+1, got.Hash, h)
		}
		prev = h
	}
	rep, err := db.Verify(ctx)
	if err != nil || len(rep.Broken) > 0 || rep.Events < 4 {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
}
