package store

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// tamper opens the closed store's file with bbolt itself and lets edit
// change it, as someone with access to the file could.
func tamper(t *testing.T, path string, edit func(t *testing.T, tx *bolt.Tx)) {
	t.Helper()
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	if err := bdb.Update(func(tx *bolt.Tx) error { edit(t, tx); return nil }); err != nil {
		t.Fatal(err)
	}
}

// chainOf returns the events bucket of session id.
func chainOf(tx *bolt.Tx, id string) *bolt.Bucket {
	return tx.Bucket(bucketEvents).Bucket([]byte(id))
}

// rewrite decodes event seq of s1, lets fn change it, and stores it back.
func rewrite(t *testing.T, tx *bolt.Tx, seq uint64, fn func(*Event)) {
	t.Helper()
	b := chainOf(tx, "s1")
	ev, err := decodeEvent(b.Get(seqKey(seq)))
	if err != nil {
		t.Fatal(err)
	}
	fn(&ev)
	v, err := json.Marshal(&ev)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Put(seqKey(seq), v); err != nil {
		t.Fatal(err)
	}
}

func put(t *testing.T, b *bolt.Bucket, k, v []byte) {
	t.Helper()
	if err := b.Put(k, v); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	for _, tc := range []struct {
		name    string
		edit    func(t *testing.T, tx *bolt.Tx)
		wantSeq uint64
		reason  string
	}{
		{"untouched", func(*testing.T, *bolt.Tx) {}, 0, ""},
		{"raw bytes edited", func(t *testing.T, tx *bolt.Tx) {
			b := chainOf(tx, "s1")
			v := bytes.Replace(b.Get(seqKey(3)), []byte(`"tool":"tool3"`), []byte(`"tool":"tool9"`), 1)
			put(t, b, seqKey(3), v)
		}, 3, "hash mismatch"},
		{"bytes after the JSON", func(t *testing.T, tx *bolt.Tx) {
			b := chainOf(tx, "s1")
			put(t, b, seqKey(2), append(append([]byte(nil), b.Get(seqKey(2))...), ` {"hidden": true}`...))
		}, 2, "trailing data"},
		{"raw bytes cut", func(t *testing.T, tx *bolt.Tx) {
			b := chainOf(tx, "s1")
			v := b.Get(seqKey(2))
			put(t, b, seqKey(2), append([]byte(nil), v[:len(v)/2]...))
		}, 2, "decode event"},
		{"field edited", func(t *testing.T, tx *bolt.Tx) {
			rewrite(t, tx, 4, func(e *Event) { e.Verdict = "deny" })
		}, 4, "hash mismatch"},
		{"seq field edited", func(t *testing.T, tx *bolt.Tx) {
			rewrite(t, tx, 2, func(e *Event) { e.Seq = 7 })
		}, 2, "reordered"},
		{"field edited and rehashed", func(t *testing.T, tx *bolt.Tx) {
			rewrite(t, tx, 2, func(e *Event) { e.Args = json.RawMessage(`{"path":"/etc/shadow"}`); e.Hash, _ = hashEvent(*e) })
		}, 3, "prev does not match the hash of event 2:"},
		{"event deleted", func(t *testing.T, tx *bolt.Tx) {
			if err := chainOf(tx, "s1").Delete(seqKey(3)); err != nil {
				t.Fatal(err)
			}
		}, 3, "missing"},
		{"events swapped", func(t *testing.T, tx *bolt.Tx) {
			b := chainOf(tx, "s1")
			v2 := append([]byte(nil), b.Get(seqKey(2))...)
			v3 := append([]byte(nil), b.Get(seqKey(3))...)
			put(t, b, seqKey(2), v3)
			put(t, b, seqKey(3), v2)
		}, 2, "reordered"},
		{"events swapped and renumbered", func(t *testing.T, tx *bolt.Tx) {
			b := chainOf(tx, "s1")
			e2, _ := decodeEvent(b.Get(seqKey(2)))
			e3, _ := decodeEvent(b.Get(seqKey(3)))
			e2.Seq, e3.Seq = 3, 2
			v2, _ := json.Marshal(&e2)
			v3, _ := json.Marshal(&e3)
			put(t, b, seqKey(2), v3)
			put(t, b, seqKey(3), v2)
		}, 2, "hash mismatch"},
		{"tail truncated", func(t *testing.T, tx *bolt.Tx) {
			b := chainOf(tx, "s1")
			for _, s := range []uint64{4, 5} {
				if err := b.Delete(seqKey(s)); err != nil {
					t.Fatal(err)
				}
			}
		}, 4, "tail truncated"},
		{"head hash edited", func(t *testing.T, tx *bolt.Tx) {
			sessions := tx.Bucket(bucketSessions)
			s, _ := decodeSession(sessions.Get([]byte("s1")))
			s.Head = strings.Repeat("0", 64)
			v, _ := json.Marshal(&s)
			put(t, sessions, []byte("s1"), v)
		}, 5, "head hash"},
		{"event added past the head", func(t *testing.T, tx *bolt.Tx) {
			b := chainOf(tx, "s1")
			e, _ := decodeEvent(b.Get(seqKey(5)))
			e.Seq, e.Prev = 6, e.Hash
			e.Hash, _ = hashEvent(e)
			v, _ := json.Marshal(&e)
			put(t, b, seqKey(6), v)
		}, 6, "past the session record's head"},
		{"session record deleted", func(t *testing.T, tx *bolt.Tx) {
			if err := tx.Bucket(bucketSessions).Delete([]byte("s1")); err != nil {
				t.Fatal(err)
			}
		}, 1, "no session record"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, path := openTest(t)
			ctx := context.Background()
			mustCreate(t, db, "s1", "a", time.Now())
			mustCreate(t, db, "s2", "a", time.Now())
			for i := 1; i <= 5; i++ {
				if _, err := db.Append(ctx, "s1", Event{Kind: KindCall, Tool: "tool" + string(rune('0'+i)), Args: json.RawMessage(`{"path":"/tmp"}`), Verdict: "allow", Reasons: []string{"r"}}); err != nil {
					t.Fatal(err)
				}
				mustAppend(t, db, "s2", "other")
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			tamper(t, path, tc.edit)

			db2, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db2.Close() })
			rep, err := db2.Verify(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Sessions != 2 {
				t.Errorf("checked %d chains, want 2", rep.Sessions)
			}
			if tc.reason == "" {
				if len(rep.Broken) != 0 || rep.Events != 10 {
					t.Errorf("untouched store: %+v", rep)
				}
				return
			}
			if len(rep.Broken) != 1 {
				t.Fatalf("Broken = %+v, want one break in s1", rep.Broken)
			}
			b := rep.Broken[0]
			if b.Session != "s1" || b.Seq != tc.wantSeq || !strings.Contains(b.Reason, tc.reason) {
				t.Errorf("got %+v, want s1 seq %d %q", b, tc.wantSeq, tc.reason)
			}
		})
	}
}

// TestHashCoversEveryField sets each field of Event, found by reflection,
// to a non-zero value in turn, from both an empty and a full event, and
// checks the hash changes: a field left out of the encoding could be
// edited undetected, and a field added to Event later is checked without
// anyone remembering to list it here. Hash itself is the one field the
// hash must not depend on; Prev is hashed like the rest (it is what links
// the chain).
func TestHashCoversEveryField(t *testing.T) {
	typ := reflect.TypeFor[Event]()
	full := Event{}
	for i := range typ.NumField() {
		if f := typ.Field(i); f.IsExported() && f.Name != "Hash" {
			reflect.ValueOf(&full).Elem().Field(i).Set(nonZero(t, f))
		}
	}
	for _, base := range []struct {
		name string
		ev   Event
	}{{"empty", Event{}}, {"full", full}} {
		h0, err := hashEvent(base.ev)
		if err != nil {
			t.Fatal(err)
		}
		for i := range typ.NumField() {
			f := typ.Field(i)
			if f.Name == "Hash" {
				continue
			}
			if !f.IsExported() {
				t.Errorf("Event.%s is unexported, so encoding/json leaves it out of the hash", f.Name)
				continue
			}
			e := base.ev
			v := reflect.ValueOf(&e).Elem().Field(i)
			if v.IsZero() {
				v.Set(nonZero(t, f))
			} else {
				v.SetZero()
			}
			h, err := hashEvent(e)
			if err != nil {
				t.Fatalf("%s event with %s changed: %v", base.name, f.Name, err)
			}
			if h == h0 {
				t.Errorf("changing %s of the %s event leaves the hash unchanged", f.Name, base.name)
			}
		}
		e := base.ev
		e.Hash = "anything"
		if h, _ := hashEvent(e); h != h0 {
			t.Errorf("the hash of the %s event depends on the Hash field itself", base.name)
		}
	}
	if _, ok := typ.FieldByName("Hash"); !ok {
		t.Fatal("Event has no Hash field: this test needs to learn its new name")
	}
}

// nonZero is a non-zero value for field f that encoding/json can encode.
// A field of a type it does not know fails the test, so that the type is
// taught here rather than skipped.
func nonZero(t *testing.T, f reflect.StructField) reflect.Value {
	t.Helper()
	v := reflect.New(f.Type).Elem()
	switch {
	case f.Type == reflect.TypeFor[json.RawMessage]():
		v.SetBytes([]byte(`1`))
	case f.Type == reflect.TypeFor[time.Time]():
		v.Set(reflect.ValueOf(time.Unix(1, 0).UTC()))
	case f.Type.Kind() == reflect.String:
		v.SetString("x")
	case f.Type.Kind() == reflect.Bool:
		v.SetBool(true)
	case v.CanInt():
		v.SetInt(1)
	case v.CanUint():
		v.SetUint(1)
	case v.CanFloat():
		v.SetFloat(1)
	case f.Type.Kind() == reflect.Slice:
		elem := nonZero(t, reflect.StructField{Name: f.Name + "[0]", Type: f.Type.Elem()})
		v.Set(reflect.Append(v, elem))
	case f.Type.Kind() == reflect.Map && f.Type.Key().Kind() == reflect.String:
		v.Set(reflect.MakeMap(f.Type))
		v.SetMapIndex(reflect.ValueOf("k").Convert(f.Type.Key()), nonZero(t, reflect.StructField{Name: f.Name + "[k]", Type: f.Type.Elem()}))
	case f.Type.Kind() == reflect.Pointer:
		p := reflect.New(f.Type.Elem())
		p.Elem().Set(nonZero(t, reflect.StructField{Name: "*" + f.Name, Type: f.Type.Elem()}))
		v.Set(p)
	default:
		t.Fatalf("Event.%s has type %s, for which this test has no non-zero value: add one to nonZero", f.Name, f.Type)
	}
	return v
}

// TestSealEventMatchesHashThenEncode: the one-pass seal gives exactly the
// hash and bytes of hashing then encoding.
func TestSealEventMatchesHashThenEncode(t *testing.T) {
	evs := []Event{
		{Seq: 1, Session: "s", Kind: KindCall, Tool: "t", Args: []byte(`{"a":"<b>&"}`), Reasons: []string{"x"}},
		{Seq: 9, Session: "s", Prev: "ab", Kind: KindResult, Error: "\xff bad utf8", Data: []byte(`[1,2]`), OK: true, Size: 3},
	}
	for _, ev := range evs {
		n, err := normalize(ev)
		if err != nil {
			t.Fatal(err)
		}
		wantHash, err := hashEvent(n)
		if err != nil {
			t.Fatal(err)
		}
		n.Hash = wantHash
		want, err := encodeEvent(n)
		if err != nil {
			t.Fatal(err)
		}
		got, err := sealEvent(&n)
		if err != nil || n.Hash != wantHash || string(got) != string(want) {
			t.Fatalf("sealEvent = %s (%s), %v\nwant %s (%s)", got, n.Hash, err, want, wantHash)
		}
	}
}
