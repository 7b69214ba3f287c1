package store

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// FuzzDecodeEvent: decoding arbitrary stored bytes returns an error or an
// event, never panics; an event it accepts encodes and decodes to itself.
func FuzzDecodeEvent(f *testing.F) {
	ev := Event{Seq: 1, Session: "s", Time: time.Unix(5, 0).UTC(), Kind: KindCall, Args: json.RawMessage(`{"a":[1,2]}`), Reasons: []string{"x"}}
	good, _ := json.Marshal(&ev)
	for _, seed := range []string{string(good), "", "{}", "null", `{"seq":-1}`, `{"time":"nope"}`, `{"args":}`, `{"zzz":1}`, `{} {}`, `[1]`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := decodeEvent(b)
		if err != nil {
			return
		}
		again, err := encodeEvent(ev)
		if err != nil {
			t.Fatalf("accepted event does not encode: %v", err)
		}
		ev2, err := decodeEvent(again)
		if err != nil {
			t.Fatalf("re-encoded event does not decode: %v\n%s", err, again)
		}
		h1, _ := hashEvent(ev)
		h2, _ := hashEvent(ev2)
		if h1 != h2 {
			t.Fatalf("hash changes across a round trip:\n%s", again)
		}
	})
}

// FuzzDecodeSession: the same for session records.
func FuzzDecodeSession(f *testing.F) {
	s := Session{ID: "s", Agent: "a", Started: time.Unix(5, 0).UTC(), State: StateActive, Data: json.RawMessage(`{"n":1}`), LastSeq: 2, Head: "ab"}
	good, _ := json.Marshal(&s)
	for _, seed := range []string{string(good), "", "{}", `{"id":""}`, `{"id":"x","data":}`, `{"id":"x","last_seq":-3}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeSession(b)
		if err != nil {
			return
		}
		again, err := encodeSession(s)
		if err != nil {
			t.Fatalf("accepted session does not encode: %v", err)
		}
		s2, err := decodeSession(again)
		if err != nil {
			t.Fatalf("re-encoded session does not decode: %v", err)
		}
		// The first encoding may escape HTML characters in Data ("&" as
		// "\u0026"): the same JSON value, and the form the state's digest
		// is taken of (dataDigest). What must hold is that the value does
		// not change, and that the stored form is stable from then on.
		if !sameJSON(s.Data, s2.Data) {
			t.Fatalf("Data changes across a round trip: %q vs %q", s.Data, s2.Data)
		}
		third, err := encodeSession(s2)
		if err != nil || !bytes.Equal(third, again) {
			t.Fatalf("the stored form is not stable: %q then %q (%v)", again, third, err)
		}
	})
}

// FuzzCanonical: whatever strings and JSON a caller hands Append, the
// event it stores hashes the same after being decoded from storage, so
// Verify will not report an intact event as altered; and normalize's fast
// path gives what the JSON round trip gives.
func FuzzCanonical(f *testing.F) {
	f.Add("call", "read_file", "{\"p\":\"<a&b>\"}", "caf\xe9", int64(1700000000123456789))
	f.Add("result", "", "[1, 2.50, 1e3]", "\u2028", int64(0))
	f.Fuzz(func(t *testing.T, kind, tool, args, reason string, nanos int64) {
		if !json.Valid([]byte(args)) {
			return // Append rejects it
		}
		ev := Event{Seq: 3, Session: "s", Kind: kind, Tool: tool, Args: json.RawMessage(args), Reasons: []string{reason}, Error: reason,
			Time: time.Unix(0, nanos).UTC(), Prev: "p"}
		n, err := normalize(ev)
		if err != nil {
			return // e.g. a year past 9999
		}
		// The fast path, where it is taken, is the round trip exactly.
		if slow, err := roundTrip(ev); err != nil || !reflect.DeepEqual(n, slow) {
			t.Fatalf("normalize gives\n%+v\nthe round trip\n%+v, %v", n, slow, err)
		}
		h, err := hashEvent(n)
		if err != nil {
			t.Fatal(err)
		}
		n.Hash = h
		stored, err := encodeEvent(n)
		if err != nil {
			t.Fatal(err)
		}
		back, err := decodeEvent(stored)
		if err != nil {
			t.Fatalf("stored event does not decode: %v\n%s", err, stored)
		}
		if h2, _ := hashEvent(back); h2 != back.Hash {
			t.Fatalf("hash %s after storage, %s before:\n%s", h2, back.Hash, stored)
		}
	})
}

// FuzzLogRecord: a log frame's payload from arbitrary bytes never panics,
// and a record that decodes encodes back to the same bytes.
func FuzzLogRecord(f *testing.F) {
	f.Add(walRecord{Session: "s", Seq: 3, Hash: "ab", Event: []byte(`{"seq":3}`), SetData: true, Data: []byte(`{}`)}.marshal())
	f.Add([]byte{})
	f.Add([]byte{1, 's', 200})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := unmarshalRecord(b)
		if err != nil {
			return
		}
		// Varints may come non-canonical; what matters is that the
		// record survives its own encoding.
		r2, err := unmarshalRecord(r.marshal())
		if err != nil || r2.Session != r.Session || r2.Seq != r.Seq || r2.Hash != r.Hash || !r2.Time.Equal(r.Time) ||
			r2.SetData != r.SetData || !bytes.Equal(r2.Data, r.Data) || !bytes.Equal(r2.Event, r.Event) {
			t.Fatalf("round trip changed the record: %+v -> %+v, %v", r, r2, err)
		}
	})
}

// FuzzReadLog: a log file of arbitrary bytes never panics the reader; it
// is read as a new log, as records of its epoch, or refused with an error.
// A file that reads as records keeps them when read again.
func FuzzReadLog(f *testing.F) {
	rec := walRecord{Session: "s", Seq: 1, Hash: "ab", Event: []byte(`{"seq":1}`)}
	dir := f.TempDir()
	w, err := createWAL(filepath.Join(dir, "seed"), 3, 0)
	if err != nil {
		f.Fatal(err)
	}
	if err := w.put([]walRecord{rec, rec}, [][]byte{rec.marshal(), rec.marshal()}); err != nil {
		f.Fatal(err)
	}
	seed := make([]byte, w.off+8)
	if _, err := w.f.ReadAt(seed, 0); err != nil {
		f.Fatal(err)
	}
	w.close()
	f.Add(seed)
	f.Add([]byte(walMagicV1 + "\x01\x00\x00\x00"))
	f.Add([]byte("WAL2"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), "wal")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := readLog(path)
		if err != nil {
			return
		}
		again, err := readLog(path)
		if err != nil || len(again.recs) != len(c.recs) {
			t.Fatalf("second read: %d records, %v; first: %d", len(again.recs), err, len(c.recs))
		}
		for i, r := range c.recs {
			if !c.v1 && r.LSN != c.base+uint64(i)+1 {
				t.Fatalf("record %d has LSN %d after base %d", i, r.LSN, c.base)
			}
		}
	})
}

// FuzzReadExport: reading arbitrary bytes as an export returns an error or
// sessions, never panics; what it accepts writes back to an export that
// reads the same, every chain still checked.
func FuzzReadExport(f *testing.F) {
	var good bytes.Buffer
	s := Session{ID: "s", Agent: "a", State: StateEnded, Started: time.Unix(5, 0).UTC()}
	var evs []Event
	for i := range 3 {
		ev := Event{Seq: uint64(i + 1), Session: "s", Time: time.Unix(int64(6+i), 0).UTC(), Kind: KindCall, Args: json.RawMessage(`{"q":"<x>"}`)}
		if i > 0 {
			ev.Prev = evs[i-1].Hash
		}
		if _, err := sealEvent(&ev); err != nil {
			f.Fatal(err)
		}
		evs = append(evs, ev)
	}
	s.LastSeq, s.Head = 3, evs[2].Hash
	if err := WriteExport(&good, s, evs); err != nil {
		f.Fatal(err)
	}
	if err := WriteExport(&good, Session{ID: "empty", State: StateEnded}, nil); err != nil {
		f.Fatal(err)
	}
	n := 0
	if err := ReadExport(bytes.NewReader(good.Bytes()), func(ExportedSession) error { n++; return nil }); err != nil || n != 2 {
		f.Fatalf("the good seed reads as %d sessions, %v", n, err)
	}
	for _, seed := range []string{good.String(), "", "\n", `{}`, `{"event":{}}`, `{"session":{"id":"x"},"event":{}}`,
		`{"session":{"id":"x","last_seq":1}}`, strings.Replace(good.String(), `"seq":2`, `"seq":9`, 1)} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var got []ExportedSession
		if err := ReadExport(bytes.NewReader(b), func(x ExportedSession) error { got = append(got, x); return nil }); err != nil {
			return
		}
		var again bytes.Buffer
		for _, x := range got {
			if err := WriteExport(&again, x.Session, x.Events); err != nil {
				t.Fatalf("accepted session does not write: %v", err)
			}
		}
		var back []ExportedSession
		if err := ReadExport(&again, func(x ExportedSession) error { back = append(back, x); return nil }); err != nil {
			t.Fatalf("rewritten export does not read: %v\n%s", err, again.Bytes())
		}
		if len(back) != len(got) {
			t.Fatalf("rewritten export has %d sessions, want %d", len(back), len(got))
		}
		for i := range got {
			if back[i].Session.ID != got[i].Session.ID || back[i].Session.Head != got[i].Session.Head || len(back[i].Events) != len(got[i].Events) {
				t.Fatalf("session %d changed across a round trip", i)
			}
		}
	})
}

// FuzzReadCheckpoints: an anchor file of arbitrary bytes never panics the
// reader; what it accepts is signed under the key, linked line to line,
// and ends within the input.
func FuzzReadCheckpoints(f *testing.F) {
	key := []byte("0123456789abcdef")
	var seed strings.Builder
	prev := ""
	for i := range 3 {
		c := Checkpoint{Time: time.Unix(int64(i), 0).UTC(), Heads: []Head{{Session: "s", Seq: uint64(i + 1), Hash: strings.Repeat("a", 64)}}, Prev: prev}
		if err := c.Sign(key); err != nil {
			f.Fatal(err)
		}
		b, err := json.Marshal(c)
		if err != nil {
			f.Fatal(err)
		}
		seed.Write(append(b, '\n'))
		prev = c.Sig
	}
	f.Add([]byte(seed.String()))
	f.Add([]byte(seed.String()[:seed.Len()/2]))
	f.Add([]byte("{}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cps, end, err := ReadCheckpoints(bytes.NewReader(b), key)
		if err != nil {
			return
		}
		if end < 0 || end > int64(len(b)) {
			t.Fatalf("end %d outside the %d bytes read", end, len(b))
		}
		prev := ""
		for i, c := range cps {
			if !c.checkSig(key) || c.Prev != prev {
				t.Fatalf("checkpoint %d accepted without a valid signature and link", i)
			}
			prev = c.Sig
		}
	})
}

// sameJSON reports whether a and b hold the same JSON value; empty is null.
func sameJSON(a, b json.RawMessage) bool {
	var va, vb any
	if len(a) > 0 && json.Unmarshal(a, &va) != nil || len(b) > 0 && json.Unmarshal(b, &vb) != nil {
		return bytes.Equal(a, b)
	}
	return reflect.DeepEqual(va, vb)
}
