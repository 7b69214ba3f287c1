package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// retained creates a session of agent with n events, the last at
// lastSeen, and leaves it in state.
func retained(t *testing.T, db *DB, id, agent, state string, lastSeen time.Time, n int) {
	t.Helper()
	ctx := context.Background()
	mustCreate(t, db, id, agent, lastSeen.Add(-time.Hour))
	for i := range n {
		at := lastSeen.Add(time.Duration(i-n+1) * time.Second)
		if _, err := db.AppendWithData(ctx, id, Event{Kind: KindCall, Tool: "search", Time: at,
			Args: json.RawMessage(`{"q":"` + strings.Repeat("x", 200) + `"}`)}, json.RawMessage(`{"bound":"secret"}`)); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.UpdateSession(ctx, id, func(s *Session) error { s.State = state; return nil }); err != nil {
		t.Fatal(err)
	}
}

// pruneWith prunes with one policy for every agent, into a fresh directory.
func pruneWith(t *testing.T, db *DB, pol Retention, now time.Time) (PruneResult, string) {
	t.Helper()
	dir := t.TempDir()
	res, err := db.Prune(context.Background(), PruneOptions{Now: now, ExportDir: dir, Policy: func(string) Retention { return pol }})
	if err != nil {
		t.Fatalf("Prune: %v", err)
	}
	return res, dir
}

// readExportFile reads an export file back, checked, by session id.
func readExportFile(t *testing.T, path string) map[string]ExportedSession {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]ExportedSession{}
	if err := ReadExport(f, func(x ExportedSession) error { out[x.Session.ID] = x; return nil }); err != nil {
		t.Fatalf("ReadExport(%s): %v", path, err)
	}
	return out
}

func mustVerify(t *testing.T, db *DB) Report {
	t.Helper()
	rep, err := db.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestPruneExportsThenDeletes(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	now := time.Now()
	retained(t, db, "old", "a", StateEnded, now.Add(-48*time.Hour), 5)
	retained(t, db, "old-killed", "a", StateKilled, now.Add(-30*time.Hour), 3)
	retained(t, db, "recent", "a", StateEnded, now.Add(-time.Hour), 4)
	before, err := db.Events(ctx, "old")
	if err != nil {
		t.Fatal(err)
	}
	oldRec, _ := db.Session(ctx, "old")

	res, _ := pruneWith(t, db, Retention{MaxAge: 24 * time.Hour}, now)
	if res.Sessions != 2 || res.Events != 8 || len(res.Files) != 1 || res.Bytes <= 0 {
		t.Fatalf("Prune = %+v, want 2 sessions, 8 events, 1 file", res)
	}
	got := readExportFile(t, res.Files[0])
	if len(got) != 2 {
		t.Fatalf("export holds %d sessions, want 2", len(got))
	}
	if !reflect.DeepEqual(got["old"].Events, before) {
		t.Fatalf("exported events differ from the stored ones:\n%+v\n%+v", got["old"].Events, before)
	}
	if h := got["old"].Session; h.LastSeq != 5 || h.Head != oldRec.Head || string(h.Data) != `{"bound":"secret"}` {
		t.Fatalf("export header = %+v, want the full record with its head", h)
	}

	for id, want := range map[string]int{"old": 0, "old-killed": 0, "recent": 4} {
		evs, err := db.Events(ctx, id)
		if err != nil || len(evs) != want {
			t.Fatalf("Events(%s) = %d, %v; want %d", id, len(evs), err, want)
		}
	}
	s, err := db.Session(ctx, "old")
	if err != nil || s.LastSeq != 5 || s.Head != oldRec.Head || s.Data != nil {
		t.Fatalf("pruned session record = %+v, %v; want head kept and data cleared", s, err)
	}
	raw, err := os.ReadFile(res.Files[0])
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	ts, ok, err := db.Tombstone(ctx, "old")
	if err != nil || !ok || ts.ExportSHA256 != hex.EncodeToString(sum[:]) || ts.LastSeq != 5 || ts.Head != oldRec.Head {
		t.Fatalf("Tombstone = %+v, %v, %v; want the file's SHA-256 and the head", ts, ok, err)
	}
	sys, err := db.Events(ctx, SystemLog)
	if err != nil || len(sys) != 1 || sys[0].Kind != KindPrune || sys[0].Seq != ts.SystemSeq {
		t.Fatalf("system log = %+v, %v; want one prune event", sys, err)
	}
	rep := mustVerify(t, db)
	if len(rep.Broken) != 0 || rep.Pruned != 2 {
		t.Fatalf("Verify = %+v, want intact with 2 pruned", rep)
	}

	// Nothing is left to prune: a second run writes no file.
	if res, _ := pruneWith(t, db, Retention{MaxAge: 24 * time.Hour}, now); res.Sessions != 0 || len(res.Files) != 0 {
		t.Fatalf("second Prune = %+v, want nothing", res)
	}
}

func TestPruneNeverTakesActiveSessions(t *testing.T) {
	db, _ := openTest(t)
	now := time.Now()
	retained(t, db, "live", "a", StateActive, now.Add(-1000*time.Hour), 3)
	res, _ := pruneWith(t, db, Retention{MaxAge: time.Hour, MaxBytes: 1}, now)
	if res.Sessions != 0 {
		t.Fatalf("Prune took an active session: %+v", res)
	}
	if evs, _ := db.Events(context.Background(), "live"); len(evs) != 3 {
		t.Fatalf("active session has %d events, want 3", len(evs))
	}
	if evs, _ := db.Events(context.Background(), SystemLog); len(evs) != 0 {
		t.Fatalf("system log has %d events for a prune that removed nothing", len(evs))
	}
}

func TestPruneMaxBytesTakesOldestFirst(t *testing.T) {
	db, _ := openTest(t)
	now := time.Now()
	// Same size each; the agent may keep two of three. Creation order is
	// not age order, so that the test sees LastSeen decide.
	retained(t, db, "middle", "a", StateEnded, now.Add(-2*time.Hour), 4)
	retained(t, db, "newest", "a", StateEnded, now.Add(-time.Hour), 4)
	retained(t, db, "oldest", "a", StateExpired, now.Add(-3*time.Hour), 4)
	retained(t, db, "other-agent", "b", StateEnded, now.Add(-9*time.Hour), 4)
	var one int64
	if err := db.flushLog(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, _, size, err := db.snapshot(context.Background(), "middle"); err != nil || size == 0 {
		t.Fatal(err)
	} else {
		one = size
	}
	dir := t.TempDir()
	res, err := db.Prune(context.Background(), PruneOptions{Now: now, ExportDir: dir, Policy: func(agent string) Retention {
		if agent == "a" {
			return Retention{MaxBytes: 2*one + one/2}
		}
		return Retention{}
	}})
	if err != nil {
		t.Fatal(err)
	}
	got := readExportFile(t, res.Files[0])
	if _, ok := got["oldest"]; !ok || len(got) != 1 {
		t.Fatalf("pruned %v, want only the oldest", keys(got))
	}
}

func keys(m map[string]ExportedSession) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestVerifyTellsPrunedFromDeleted(t *testing.T) {
	for _, tc := range []struct {
		name   string
		edit   func(t *testing.T, tx *bolt.Tx) // after the prune of "p"
		pruned int
		broken string // the break's session and a phrase of its reason; "" for intact
	}{
		{name: "pruned", pruned: 1},
		{name: "events deleted by hand", broken: "d: tail truncated", pruned: 1, edit: func(t *testing.T, tx *bolt.Tx) {
			if err := tx.Bucket(bucketEvents).DeleteBucket([]byte("d")); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "tombstone forged for a hand deletion", broken: "d: does not list this session", pruned: 1, edit: func(t *testing.T, tx *bolt.Tx) {
			if err := tx.Bucket(bucketEvents).DeleteBucket([]byte("d")); err != nil {
				t.Fatal(err)
			}
			ts := tx.Bucket(bucketPruned).Get([]byte("p"))
			put(t, tx.Bucket(bucketPruned), []byte("d"), []byte(strings.Replace(string(ts), `"session":"p"`, `"session":"d"`, 1)))
		}},
		{name: "prune event removed from the system log", broken: "p: no intact prune event", edit: func(t *testing.T, tx *bolt.Tx) {
			if err := tx.Bucket(bucketEvents).DeleteBucket([]byte(SystemLog)); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "tombstone head altered", broken: "p: chain head differs", edit: func(t *testing.T, tx *bolt.Tx) {
			ts := tx.Bucket(bucketPruned).Get([]byte("p"))
			var tomb Tombstone
			if err := json.Unmarshal(ts, &tomb); err != nil {
				t.Fatal(err)
			}
			tomb.Head = strings.Repeat("0", 64)
			b, _ := json.Marshal(tomb)
			put(t, tx.Bucket(bucketPruned), []byte("p"), b)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, path := openTest(t)
			now := time.Now()
			retained(t, db, "p", "a", StateEnded, now.Add(-48*time.Hour), 3)
			retained(t, db, "d", "a", StateEnded, now.Add(-time.Hour), 3)
			pruneWith(t, db, Retention{MaxAge: 24 * time.Hour}, now)
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if tc.edit != nil {
				tamper(t, path, tc.edit)
			}
			db2, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer db2.Close()
			rep := mustVerify(t, db2)
			if rep.Pruned != tc.pruned {
				t.Errorf("Pruned = %d, want %d", rep.Pruned, tc.pruned)
			}
			if tc.broken == "" {
				if len(rep.Broken) != 0 {
					t.Fatalf("Broken = %+v, want none", rep.Broken)
				}
				return
			}
			// The break of the session itself; removing the prune event
			// breaks the system log's chain as well.
			id, phrase, _ := strings.Cut(tc.broken, ": ")
			var found bool
			for _, b := range rep.Broken {
				found = found || (b.Session == id && strings.Contains(b.Reason, phrase))
			}
			if !found || len(rep.Broken) > 2 {
				t.Fatalf("Broken = %+v, want a break of %s saying %q", rep.Broken, id, phrase)
			}
		})
	}
}

// An event that reaches a session after its prune (a late result)
// continues the chain from the tombstone's head, and is pruned in turn.
func TestEventAfterPruneContinuesTheChain(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	now := time.Now()
	retained(t, db, "s", "a", StateEnded, now.Add(-48*time.Hour), 3)
	pruneWith(t, db, Retention{MaxAge: 24 * time.Hour}, now)
	late, err := db.Append(ctx, "s", Event{Kind: KindResult, Time: now.Add(-47 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	ts, _, _ := db.Tombstone(ctx, "s")
	if late.Seq != 4 || late.Prev != ts.Head {
		t.Fatalf("late event = seq %d prev %s, want 4 after %s", late.Seq, late.Prev, ts.Head)
	}
	if rep := mustVerify(t, db); len(rep.Broken) != 0 || rep.Events != 2 {
		t.Fatalf("Verify = %+v, want intact with 2 events (the late one and the prune)", rep)
	}
	res, _ := pruneWith(t, db, Retention{MaxAge: 24 * time.Hour}, now)
	got := readExportFile(t, res.Files[0])
	if evs := got["s"].Events; len(evs) != 1 || evs[0].Hash != late.Hash {
		t.Fatalf("second export = %+v, want the late event", evs)
	}
	if rep := mustVerify(t, db); len(rep.Broken) != 0 || rep.Pruned != 1 {
		t.Fatalf("Verify = %+v, want intact", rep)
	}
}

func TestPruneRefusesWithoutExportDir(t *testing.T) {
	db, _ := openTest(t)
	if _, err := db.Prune(context.Background(), PruneOptions{Policy: func(string) Retention { return Retention{MaxAge: time.Hour} }}); err == nil {
		t.Fatal("Prune without an export directory succeeded")
	}
}

func TestCompactGivesSpaceBack(t *testing.T) {
	ctx := context.Background()
	db, path := openTest(t)
	now := time.Now()
	for i := range 40 {
		retained(t, db, "s"+itoa(i), "a", StateEnded, now.Add(-48*time.Hour), 50)
	}
	retained(t, db, "keep", "a", StateEnded, now, 5)
	pruneWith(t, db, Retention{MaxAge: 24 * time.Hour}, now)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// Too little free for a threshold of all of it: skipped.
	if res, err := Compact(ctx, path, 1.01); err != nil || !res.Skipped {
		t.Fatalf("Compact(1.01) = %+v, %v; want skipped", res, err)
	}
	res, err := Compact(ctx, path, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if res.Skipped || res.After >= res.Before || fi.Size() != res.After {
		t.Fatalf("Compact = %+v (file now %d bytes), want a smaller file", res, fi.Size())
	}
	t.Logf("compacted %d -> %d bytes (%d free)", res.Before, res.After, res.Free)
	db2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if rep := mustVerify(t, db2); len(rep.Broken) != 0 || rep.Pruned != 40 || rep.Events != 6 {
		t.Fatalf("Verify after compaction = %+v, want intact, 40 pruned, 6 events (5 kept, 1 prune)", rep)
	}
	if _, err := db2.Append(ctx, "keep", Event{Kind: KindResult}); err != nil {
		t.Fatalf("Append after compaction: %v", err)
	}
}

func TestCompactRefusesAnOpenStore(t *testing.T) {
	_, path := openTest(t)
	if _, err := Compact(context.Background(), path, 0, WithLockTimeout(50*time.Millisecond)); err == nil || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("Compact of an open store: %v, want a lock error", err)
	}
}

// An export that cannot be written deletes nothing and records nothing.
func TestPruneWithoutAnExportDeletesNothing(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	now := time.Now()
	retained(t, db, "old", "a", StateEnded, now.Add(-48*time.Hour), 3)
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := db.Prune(ctx, PruneOptions{Now: now, ExportDir: filepath.Join(notADir, "export"),
		Policy: func(string) Retention { return Retention{MaxAge: time.Hour} }})
	if err == nil {
		t.Fatal("Prune succeeded with an export directory that cannot exist")
	}
	if evs, _ := db.Events(ctx, "old"); len(evs) != 3 {
		t.Fatalf("the session has %d events after a failed export, want 3", len(evs))
	}
	if _, ok, _ := db.Tombstone(ctx, "old"); ok {
		t.Fatal("a tombstone was written for a failed export")
	}
	if evs, _ := db.Events(ctx, SystemLog); len(evs) != 0 {
		t.Fatalf("the system log recorded %d events for a failed export", len(evs))
	}
}
