package postgres_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/warden-dev/warden/internal/testkit"
)

// TestPolicies: the last announcement wins, each replica's record says
// what it runs and why it differs, and a store that is no replica
// records nothing.
func TestPolicies(t *testing.T) {
	base := testkit.Postgres(t)
	ctx := context.Background()
	r := replicas(t, base, "policies", "a", "b", "c")
	a, b, c := r[0], r[1], r[2]
	if p, err := a.Policies(ctx); err != nil || p.Announced != "" || len(p.Replicas) != 0 {
		t.Fatalf("before any: %+v, %v", p, err)
	}
	for _, step := range []func() error{
		func() error { return a.AnnouncePolicy(ctx, "d0") },
		func() error { return b.AnnouncePolicy(ctx, "d0") },
		func() error { return a.AnnouncePolicy(ctx, "d1") },
		func() error { return b.RecordPolicy(ctx, "d1", "") },
		func() error { return c.RecordPolicy(ctx, "d0", "differs from d1") },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	p, err := c.Policies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprintf("%s by %s:", p.Announced, p.AnnouncedBy)
	for _, rp := range p.Replicas {
		got += fmt.Sprintf(" %s=%s(%s)", rp.Replica, rp.Digest, rp.Problem)
		if rp.Loaded.IsZero() {
			t.Fatalf("replica %s: no load time", rp.Replica)
		}
	}
	if want := "d1 by a: a=d1() b=d1() c=d0(differs from d1)"; got != want {
		t.Fatalf("policies %q, want %q", got, want)
	}
	lone := openFresh(t, base, "policies_lone")
	if err := lone.AnnouncePolicy(ctx, "d2"); err == nil {
		t.Fatal("a store that is no replica announced a policy")
	}
	if err := a.RecordPolicy(ctx, "", ""); err == nil {
		t.Fatal("an empty digest was recorded")
	}
}
