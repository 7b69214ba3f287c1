package store

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCreateAndGetSession(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	started := time.Date(2025, 3, 1, 10, 0, 0, 5, time.FixedZone("x", 3600))
	in := Session{ID: "s1", Agent: "billing", ClientName: "cli", RemoteAddr: "127.0.0.1:5", Started: started, Data: json.RawMessage(`{"node":"start"}`)}
	if err := db.CreateSession(ctx, in); err != nil {
		t.Fatal(err)
	}
	got, err := db.Session(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Agent != "billing" || got.State != StateActive || !got.Started.Equal(started) || string(got.Data) != `{"node":"start"}` || got.RemoteAddr != "127.0.0.1:5" {
		t.Errorf("got %+v", got)
	}
	if err := db.CreateSession(ctx, in); !errors.Is(err, ErrExists) {
		t.Errorf("second CreateSession: got %v, want ErrExists", err)
	}
	if _, err := db.Session(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Session(nope): got %v, want ErrNotFound", err)
	}
}

func TestCreateSessionRejects(t *testing.T) {
	db, _ := openTest(t)
	for _, tc := range []struct {
		name string
		s    Session
		want string
	}{
		{"empty id", Session{}, "empty id"},
		{"reserved id", Session{ID: SystemLog}, "reserved"},
		{"bad state", Session{ID: "a", State: "paused"}, "unknown state"},
		{"head set", Session{ID: "a", Head: "ab"}, "set by Append"},
		{"bad data", Session{ID: "a", Data: json.RawMessage(`{`)}, "encode session"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := db.CreateSession(context.Background(), tc.s)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want error containing %q", err, tc.want)
			}
		})
	}
}

func TestUpdateSession(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	mustCreate(t, db, "s1", "a", time.Now())
	mustAppend(t, db, "s1", "read")
	boom := errors.New("boom")
	for _, tc := range []struct {
		name string
		fn   func(*Session) error
		want error  // errors.Is target, if any
		msg  string // substring, if any
	}{
		{"fn error", func(*Session) error { return boom }, boom, ""},
		{"change id", func(s *Session) error { s.ID = "x"; return nil }, nil, "may not change ID"},
		{"change started", func(s *Session) error { s.Started = s.Started.Add(time.Hour); return nil }, nil, "may not change ID or Started"},
		{"change head", func(s *Session) error { s.Head = ""; return nil }, nil, "may not change LastSeq or Head"},
		{"bad state", func(s *Session) error { s.State = "zombie"; return nil }, nil, "unknown state"},
		{"change data", func(s *Session) error { s.Data = json.RawMessage(`{"n":2}`); return nil }, nil, "may not change Data"},
		{"panic", func(*Session) error { panic("oops") }, nil, "fn panicked: oops"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := db.UpdateSession(ctx, "s1", tc.fn)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || (tc.msg != "" && !strings.Contains(err.Error(), tc.msg)) {
				t.Fatalf("got %v, want %v / %q", err, tc.want, tc.msg)
			}
			got, _ := db.Session(ctx, "s1")
			if got.State != StateActive || got.LastSeq != 1 {
				t.Errorf("a failed update changed the record: %+v", got)
			}
		})
	}
	err := db.UpdateSession(ctx, "s1", func(s *Session) error {
		s.State, s.Reason = StateKilled, "rule r1"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := db.Session(ctx, "s1")
	if got.State != StateKilled || got.Reason != "rule r1" {
		t.Errorf("after update: %+v", got)
	}
	if err := db.UpdateSession(ctx, "nope", func(*Session) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateSession(nope): got %v, want ErrNotFound", err)
	}
}

func TestAppendChain(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	t0 := time.Now().Add(-time.Minute)
	mustCreate(t, db, "s1", "a", t0)
	var prev string
	for i := 1; i <= 3; i++ {
		ev := mustAppend(t, db, "s1", "read")
		if ev.Seq != uint64(i) || ev.Prev != prev || len(ev.Hash) != 64 || ev.Session != "s1" || ev.Time.IsZero() {
			t.Fatalf("event %d: %+v (prev want %q)", i, ev, prev)
		}
		if h, _ := hashEvent(ev); h != ev.Hash {
			t.Fatalf("event %d: Hash %s, recomputed %s", i, ev.Hash, h)
		}
		prev = ev.Hash
	}
	evs, err := db.Events(ctx, "s1")
	if err != nil || len(evs) != 3 {
		t.Fatalf("Events: %d, %v", len(evs), err)
	}
	for i, ev := range evs {
		if ev.Seq != uint64(i+1) {
			t.Errorf("Events[%d].Seq = %d", i, ev.Seq)
		}
	}
	s, _ := db.Session(ctx, "s1")
	if s.LastSeq != 3 || s.Head != prev || !s.LastSeen.Equal(evs[2].Time) {
		t.Errorf("session head: %+v", s)
	}
}

func TestAppendRejects(t *testing.T) {
	db, _ := openTest(t)
	mustCreate(t, db, "s1", "a", time.Now())
	for _, tc := range []struct {
		name string
		id   string
		ev   Event
		want string
		is   error
	}{
		{"no session", "nope", Event{Kind: KindCall}, "", ErrNotFound},
		{"empty id", "", Event{Kind: KindCall}, "empty session id", nil},
		{"no kind", "s1", Event{}, "empty kind", nil},
		{"other session", "s1", Event{Kind: KindCall, Session: "s2"}, "names session", nil},
		{"seq set", "s1", Event{Kind: KindCall, Seq: 4}, "set by Append", nil},
		{"bad args", "s1", Event{Kind: KindCall, Args: json.RawMessage(`{"a":`)}, "encode event", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := db.Append(context.Background(), tc.id, tc.ev)
			if err == nil || (tc.is != nil && !errors.Is(err, tc.is)) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want %v / %q", err, tc.is, tc.want)
			}
		})
	}
	if evs, _ := db.Events(context.Background(), "s1"); len(evs) != 0 {
		t.Errorf("rejected appends stored %d events", len(evs))
	}
}

func TestSystemLog(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	if evs, err := db.Events(ctx, SystemLog); err != nil || len(evs) != 0 {
		t.Fatalf("empty system log: %v, %v", evs, err)
	}
	for i := 0; i < 2; i++ {
		if _, err := db.Append(ctx, SystemLog, Event{Kind: KindToolChanged, Upstream: "fs", Tool: "read"}); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := db.Events(ctx, SystemLog)
	if err != nil || len(evs) != 2 || evs[1].Prev != evs[0].Hash {
		t.Fatalf("system log: %+v, %v", evs, err)
	}
	list, _ := db.Sessions(ctx, Filter{})
	if len(list) != 0 {
		t.Errorf("Sessions lists the system log: %+v", list)
	}
	rep, err := db.Verify(ctx)
	if err != nil || rep.Sessions != 1 || rep.Events != 2 || len(rep.Broken) != 0 {
		t.Errorf("Verify: %+v, %v", rep, err)
	}
	if _, err := db.Events(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Events(nope): %v", err)
	}
}

func TestSessionsFilter(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	// s0 .. s5, an hour apart; odd ones belong to agent b; s2 is ended.
	for i := 0; i < 6; i++ {
		agent := "a"
		if i%2 == 1 {
			agent = "b"
		}
		mustCreate(t, db, "s"+string(rune('0'+i)), agent, base.Add(time.Duration(i)*time.Hour))
	}
	if err := db.UpdateSession(ctx, "s2", func(s *Session) error { s.State = StateEnded; return nil }); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		f    Filter
		want string
	}{
		{"all newest first", Filter{}, "s5 s4 s3 s2 s1 s0"},
		{"agent", Filter{Agent: "b"}, "s5 s3 s1"},
		{"state", Filter{State: StateEnded}, "s2"},
		{"limit", Filter{Limit: 2}, "s5 s4"},
		{"since", Filter{Since: base.Add(4 * time.Hour)}, "s5 s4"},
		{"until is exclusive", Filter{Until: base.Add(2 * time.Hour)}, "s1 s0"},
		{"window, agent, limit", Filter{Agent: "a", Since: base.Add(time.Hour), Until: base.Add(5 * time.Hour), Limit: 1}, "s4"},
		{"until past the end", Filter{Until: base.Add(100 * time.Hour)}, "s5 s4 s3 s2 s1 s0"},
		{"nothing", Filter{Agent: "zzz"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := db.Sessions(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			ids := make([]string, len(got))
			for i, s := range got {
				ids[i] = s.ID
			}
			if g := strings.Join(ids, " "); g != tc.want {
				t.Errorf("got %q, want %q", g, tc.want)
			}
		})
	}
	if _, err := db.Sessions(ctx, Filter{Limit: -1}); err == nil {
		t.Error("negative limit accepted")
	}
}

func TestPin(t *testing.T) {
	db, _ := openTest(t)
	for _, step := range []struct {
		key, hash, wantPrev string
	}{
		{"fs/read", "h1", ""},
		{"fs/read", "h1", "h1"},
		{"fs/write", "w1", ""},
		{"fs/read", "h2", "h1"},
		{"fs/read", "h2", "h2"},
	} {
		prev, err := db.Pin(context.Background(), step.key, step.hash)
		if err != nil || prev != step.wantPrev {
			t.Fatalf("Pin(%s, %s) = %q, %v; want %q", step.key, step.hash, prev, err, step.wantPrev)
		}
	}
	if _, err := db.Pin(context.Background(), "", "h"); err == nil {
		t.Error("empty key accepted")
	}
}

// TestOpenLocked: a second Open of a held file gives up after the lock
// timeout. Only the timeout's expiry produces the "locked" error; an Open
// that ignored it would block, so no duration is asserted.
func TestOpenLocked(t *testing.T) {
	_, path := openTest(t)
	db2, err := Open(path, WithLockTimeout(200*time.Millisecond))
	if err == nil {
		db2.Close()
		t.Fatal("second Open of a held file succeeded")
	}
	if !strings.Contains(err.Error(), "locked by another process") {
		t.Errorf("error does not say why: %v", err)
	}
	if _, err := Open(path, WithLockTimeout(0)); err == nil {
		t.Error("zero lock timeout accepted")
	}
}

func TestClosed(t *testing.T) {
	db, _ := openTest(t)
	mustCreate(t, db, "s1", "a", time.Now())
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	calls := map[string]func() error{
		"CreateSession": func() error { return db.CreateSession(ctx, Session{ID: "s2"}) },
		"UpdateSession": func() error { return db.UpdateSession(ctx, "s1", func(*Session) error { return nil }) },
		"Session":       func() error { _, err := db.Session(ctx, "s1"); return err },
		"Sessions":      func() error { _, err := db.Sessions(ctx, Filter{}); return err },
		"Append":        func() error { _, err := db.Append(ctx, "s1", Event{Kind: KindCall}); return err },
		"Events":        func() error { _, err := db.Events(ctx, "s1"); return err },
		"Pin":           func() error { _, err := db.Pin(ctx, "k", "h"); return err },
		"Verify":        func() error { _, err := db.Verify(ctx); return err },
		"Close":         db.Close,
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}

func TestAppendWithDataSetsDataAtomically(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	if err := db.CreateSession(ctx, Session{ID: "s", Agent: "a", Started: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.AppendWithData(ctx, "s", Event{Kind: KindCall}, json.RawMessage(`{"steps":["a"]}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Append(ctx, "s", Event{Kind: KindResult}); err != nil {
		t.Fatal(err)
	}
	got, err := db.Session(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Data) != `{"steps":["a"]}` || got.LastSeq != 2 {
		t.Fatalf("session after AppendWithData then Append = %+v", got)
	}
	if rep, err := db.Verify(ctx); err != nil || len(rep.Broken) != 0 {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}
