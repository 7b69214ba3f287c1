package store

import (
	"context"
	"errors"
	"testing"
)

// TestBaselinesPersist: a saved baseline survives a reopen, the last save
// wins, agents are kept apart, and bad input is refused.
func TestBaselinesPersist(t *testing.T) {
	ctx := context.Background()
	db, path := openTest(t)
	if _, err := db.Baseline(ctx, "ops"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Baseline before any save: %v, want ErrNotFound", err)
	}
	for _, v := range []string{`{"sessions":1}`, `{"sessions":2}`} {
		if err := db.SaveBaseline(ctx, "ops", []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.SaveBaseline(ctx, "other", []byte(`{"sessions":7}`)); err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		agent, data string
	}{{"", `{}`}, {"ops", `{not json`}}
	for _, b := range bad {
		if err := db.SaveBaseline(ctx, b.agent, []byte(b.data)); err == nil {
			t.Errorf("SaveBaseline(%q, %q) accepted", b.agent, b.data)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db2.Close() })
	for agent, want := range map[string]string{"ops": `{"sessions":2}`, "other": `{"sessions":7}`} {
		got, err := db2.Baseline(ctx, agent)
		if err != nil || string(got) != want {
			t.Errorf("Baseline(%s) after reopen = %s, %v; want %s", agent, got, err, want)
		}
	}
}
