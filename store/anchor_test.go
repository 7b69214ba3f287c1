package store

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// anchorLines signs n checkpoints of one head each, linked, and returns
// them as the lines of an anchor file.
func anchorLines(t *testing.T, key []byte, n int) []string {
	t.Helper()
	var lines []string
	prev := ""
	for i := range n {
		c := Checkpoint{Time: time.Now(), Heads: []Head{{Session: "s", Seq: uint64(i + 1), Hash: strings.Repeat("a", 64)}}, Prev: prev}
		if err := c.Sign(key); err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, string(b)+"\n")
		prev = c.Sig
	}
	return lines
}

func TestReadCheckpointsTrustsOnlyAnIntactFile(t *testing.T) {
	key := []byte("0123456789abcdef")
	for _, tc := range []struct {
		name  string
		edit  func(lines []string) string
		key   string
		want  int    // checkpoints read
		error string // a phrase of the error; "" for none
	}{
		{name: "intact", want: 3, edit: func(l []string) string { return strings.Join(l, "") }},
		{name: "torn last line left out", want: 2, edit: func(l []string) string { return l[0] + l[1] + l[2][:40] }},
		{name: "head altered", error: "line 2: the signature does not match", edit: func(l []string) string {
			return l[0] + strings.Replace(l[1], `"seq":2`, `"seq":1`, 1) + l[2]
		}},
		{name: "line removed", error: "line 2: does not follow", edit: func(l []string) string { return l[0] + l[2] }},
		{name: "another key", key: "fedcba9876543210", error: "line 1: the signature does not match", edit: func(l []string) string { return strings.Join(l, "") }},
		{name: "garbage in the middle", error: "line 2: not a checkpoint", edit: func(l []string) string { return l[0] + "{}x\n" + l[1] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := key
			if tc.key != "" {
				k = []byte(tc.key)
			}
			text := tc.edit(anchorLines(t, key, 3))
			cps, end, err := ReadCheckpoints(strings.NewReader(text), k)
			if tc.error != "" {
				if err == nil || !strings.Contains(err.Error(), tc.error) {
					t.Fatalf("err = %v, want one saying %q", err, tc.error)
				}
				return
			}
			if err != nil || len(cps) != tc.want || !strings.HasPrefix(text, text[:end]) || strings.Count(text[:end], "\n") != tc.want {
				t.Fatalf("read %d checkpoints to %d, %v; want %d", len(cps), end, err, tc.want)
			}
		})
	}
}

// TestCheckHeads: a head the chain holds, one it no longer reaches, one
// it holds with another hash, one pruned under a tombstone, and one of a
// session that is gone.
func TestCheckHeads(t *testing.T) {
	db, _ := openTest(t, WithSessionLog())
	ctx := context.Background()
	now := time.Now()
	retained(t, db, "old", "bot", StateEnded, now.Add(-48*time.Hour), 3)
	oldHeads, err := db.Heads(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pruneWith(t, db, Retention{MaxAge: 24 * time.Hour}, now)
	retained(t, db, "a", "bot", StateActive, now, 3)
	a, _ := db.Session(ctx, "a")
	heads := []Head{{Session: "a", Seq: 3, Hash: a.Head}}
	for _, h := range oldHeads {
		if h.Session == "old" {
			heads = append(heads, h)
		}
	}
	brk, err := db.CheckHeads(ctx, heads)
	if err != nil || len(brk) != 0 {
		t.Fatalf("CheckHeads of held heads = %+v, %v", brk, err)
	}
	brk, err = db.CheckHeads(ctx, []Head{
		{Session: "a", Seq: 4, Hash: a.Head},
		{Session: "a", Seq: 2, Hash: a.Head},
		{Session: "gone", Seq: 1, Hash: a.Head},
	})
	var got bytes.Buffer
	for _, b := range brk {
		got.WriteString(b.Session + ": " + b.Reason + "\n")
	}
	for _, want := range []string{"a: checkpointed at event 4, but its chain now ends at event 3", "a: checkpointed at event 2, but event 2 is not the one", "gone: checkpointed at event 1, but the session is gone"} {
		if !strings.Contains(got.String(), want) {
			t.Errorf("CheckHeads said:\n%s\nwant %q", got.String(), want)
		}
	}
	if err != nil || len(brk) != 3 {
		t.Fatalf("CheckHeads = %d breaks, %v; want 3", len(brk), err)
	}
}
