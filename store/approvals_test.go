package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// t0 is a fixed clock for approval tests.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func testApproval(id, session string, created time.Time) Approval {
	return Approval{
		ID: id, Session: session, Agent: "billing", CallID: "7", Tool: "refund", Upstream: "pay",
		Args:    json.RawMessage(`{"amount": 120, "to":"acct-9"}`),
		Reasons: []string{"refund is not a next step"},
		Created: created, Expires: created.Add(2 * time.Minute),
	}
}

func mustCreateApproval(t testing.TB, db *DB, a Approval) {
	t.Helper()
	if err := db.CreateApproval(context.Background(), a); err != nil {
		t.Fatalf("CreateApproval(%s): %v", a.ID, err)
	}
}

func TestDigestArgs(t *testing.T) {
	t.Parallel()
	same := [][]string{
		{`{"a":1,"b":[true,null]}`, `{ "b" : [true, null], "a": 1 }`},
		{``, `null`, `{}`, ` { } `},
		{`{"n":12345678901234567890123}`, `{"n": 12345678901234567890123}`},
	}
	for _, group := range same {
		want, err := DigestArgs(json.RawMessage(group[0]))
		if err != nil {
			t.Fatalf("DigestArgs(%s): %v", group[0], err)
		}
		for _, in := range group[1:] {
			if got, err := DigestArgs(json.RawMessage(in)); err != nil || got != want {
				t.Errorf("DigestArgs(%s) = %s, %v; want %s as for %s", in, got, err, want, group[0])
			}
		}
	}
	differ := [][2]string{
		{`{"a":1}`, `{"a":2}`},
		{`{"a":"1"}`, `{"a":1}`},
		{`{"n":12345678901234567890123}`, `{"n":12345678901234567890124}`},
		{`{"a":[1,2]}`, `{"a":[2,1]}`},
	}
	for _, p := range differ {
		a, _ := DigestArgs(json.RawMessage(p[0]))
		b, _ := DigestArgs(json.RawMessage(p[1]))
		if a == b {
			t.Errorf("DigestArgs(%s) == DigestArgs(%s)", p[0], p[1])
		}
	}
	for _, bad := range []string{`{`, `{"a":1} {}`, `nope`} {
		if _, err := DigestArgs(json.RawMessage(bad)); err == nil {
			t.Errorf("DigestArgs(%s): no error", bad)
		}
	}
}

func TestCreateApprovalValidates(t *testing.T) {
	t.Parallel()
	db, _ := openTest(t)
	ctx := context.Background()
	good := testApproval("a1", "s1", t0)
	tests := []struct {
		name   string
		change func(*Approval)
		want   string
	}{
		{"empty id", func(a *Approval) { a.ID = "" }, "empty id"},
		{"empty session", func(a *Approval) { a.Session = "" }, "empty session"},
		{"empty tool", func(a *Approval) { a.Tool = "" }, "empty tool"},
		{"decided state", func(a *Approval) { a.State = ApprovalApproved }, "state must be"},
		{"decision set", func(a *Approval) { a.Decision = DecisionOnce }, "set by DecideApproval"},
		{"no expiry", func(a *Approval) { a.Expires = time.Time{} }, "zero Expires"},
		{"expires before created", func(a *Approval) { a.Expires = a.Created.Add(-time.Second) }, "not after created"},
		{"wrong digest", func(a *Approval) { a.ArgsDigest = "00" }, "does not match"},
		{"bad args", func(a *Approval) { a.Args = json.RawMessage(`{"a":`) }, "digest args"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := good
			tt.change(&a)
			err := db.CreateApproval(ctx, a)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("CreateApproval: %v; want an error containing %q", err, tt.want)
			}
		})
	}
	// None of the refused ones left a trace.
	if got, err := db.Approvals(ctx, ApprovalFilter{}); err != nil || len(got) != 0 {
		t.Fatalf("Approvals after refusals = %v, %v; want none", got, err)
	}
	mustCreateApproval(t, db, good)
	if err := db.CreateApproval(ctx, good); !errors.Is(err, ErrExists) {
		t.Fatalf("second CreateApproval: %v; want ErrExists", err)
	}
}

func TestApprovalRoundTrip(t *testing.T) {
	t.Parallel()
	db, _ := openTest(t)
	ctx := context.Background()
	if _, err := db.Approval(ctx, "none"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Approval on an empty store: %v; want ErrNotFound", err)
	}
	in := testApproval("a1", "s1", t0.In(time.FixedZone("X", 3600)))
	mustCreateApproval(t, db, in)
	got, err := db.Approval(ctx, "a1")
	if err != nil {
		t.Fatal(err)
	}
	wantDigest, _ := DigestArgs(in.Args)
	switch {
	case got.State != ApprovalPending:
		t.Errorf("State = %q; want pending", got.State)
	case got.ArgsDigest != wantDigest:
		t.Errorf("ArgsDigest = %q; want %q", got.ArgsDigest, wantDigest)
	case string(got.Args) != `{"amount":120,"to":"acct-9"}`:
		t.Errorf("Args = %s; want compacted", got.Args)
	case !got.Created.Equal(t0) || got.Created.Location() != time.UTC:
		t.Errorf("Created = %v; want %v in UTC", got.Created, t0)
	case got.Tool != "refund" || got.Agent != "billing" || got.CallID != "7" || got.Upstream != "pay" || len(got.Reasons) != 1:
		t.Errorf("fields lost: %+v", got)
	}
	if _, err := db.Approval(ctx, "a2"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Approval(a2): %v; want ErrNotFound", err)
	}
}

func TestApprovalsFilter(t *testing.T) {
	t.Parallel()
	db, _ := openTest(t)
	ctx := context.Background()
	if got, err := db.Approvals(ctx, ApprovalFilter{}); err != nil || len(got) != 0 {
		t.Fatalf("Approvals on a store without approvals = %v, %v; want none, nil", got, err)
	}
	for i := range 6 {
		a := testApproval(fmt.Sprintf("a%d", i), fmt.Sprintf("s%d", i%2), t0.Add(time.Duration(i)*time.Second))
		if i == 5 {
			a.Agent = "other"
		}
		mustCreateApproval(t, db, a)
	}
	if _, err := db.DecideApproval(ctx, "a2", DecisionDeny, "alice", t0.Add(10*time.Second)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		f    ApprovalFilter
		want string
	}{
		{ApprovalFilter{}, "a5 a4 a3 a2 a1 a0"},
		{ApprovalFilter{Limit: 2}, "a5 a4"},
		{ApprovalFilter{Session: "s0"}, "a4 a2 a0"},
		{ApprovalFilter{Agent: "billing", Session: "s1"}, "a3 a1"},
		{ApprovalFilter{State: ApprovalPending, Session: "s0"}, "a4 a0"},
		{ApprovalFilter{State: ApprovalDenied}, "a2"},
		{ApprovalFilter{State: ApprovalApproved}, ""},
	}
	for _, tt := range tests {
		got, err := db.Approvals(ctx, tt.f)
		if err != nil {
			t.Fatalf("Approvals(%+v): %v", tt.f, err)
		}
		var ids []string
		for _, a := range got {
			ids = append(ids, a.ID)
		}
		if s := strings.Join(ids, " "); s != tt.want {
			t.Errorf("Approvals(%+v) = %q; want %q", tt.f, s, tt.want)
		}
	}
	for _, bad := range []ApprovalFilter{{Limit: -1}, {State: "held"}} {
		if _, err := db.Approvals(ctx, bad); err == nil {
			t.Errorf("Approvals(%+v): no error", bad)
		}
	}
}

func TestDecideApproval(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name      string
		decision  string
		at        time.Duration // after Created
		wantState string
		wantErr   error
	}{
		{"approve once", DecisionOnce, time.Minute, ApprovalApproved, nil},
		{"approve for session", DecisionSession, time.Minute, ApprovalApproved, nil},
		{"deny", DecisionDeny, time.Minute, ApprovalDenied, nil},
		{"deny and kill", DecisionDenyKill, 0, ApprovalDenied, nil},
		{"at expiry", DecisionOnce, 2 * time.Minute, ApprovalExpired, ErrExpired},
		{"after expiry", DecisionDeny, time.Hour, ApprovalExpired, ErrExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db, _ := openTest(t)
			mustCreateApproval(t, db, testApproval("a1", "s1", t0))
			got, err := db.DecideApproval(ctx, "a1", tt.decision, "alice", t0.Add(tt.at))
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("DecideApproval: %v; want %v", err, tt.wantErr)
			}
			stored, err := db.Approval(ctx, "a1")
			if err != nil {
				t.Fatal(err)
			}
			if got.State != tt.wantState || stored.State != tt.wantState {
				t.Fatalf("state returned %q, stored %q; want %q", got.State, stored.State, tt.wantState)
			}
			if tt.wantErr == nil {
				if stored.Decision != tt.decision || stored.DecidedBy != "alice" || !stored.DecidedAt.Equal(t0.Add(tt.at)) {
					t.Fatalf("stored decision %q by %q at %v; want %q by alice at %v", stored.Decision, stored.DecidedBy, stored.DecidedAt, tt.decision, t0.Add(tt.at))
				}
			} else if stored.Decision != "" || stored.Note == "" {
				t.Fatalf("expired approval: decision %q, note %q; want no decision and a note", stored.Decision, stored.Note)
			}
			// Whatever happened, a second decision is refused and changes nothing.
			_, err = db.DecideApproval(ctx, "a1", DecisionOnce, "bob", t0.Add(time.Second))
			wantSecond := ErrDecided
			if tt.wantErr != nil {
				wantSecond = ErrExpired
			}
			if !errors.Is(err, wantSecond) {
				t.Fatalf("second DecideApproval: %v; want %v", err, wantSecond)
			}
			if again, _ := db.Approval(ctx, "a1"); again.DecidedBy != stored.DecidedBy || again.State != stored.State {
				t.Fatalf("second decision changed the approval: %+v then %+v", stored, again)
			}
			if pending, _ := db.Approvals(ctx, ApprovalFilter{State: ApprovalPending}); len(pending) != 0 {
				t.Fatalf("still pending after a decision: %v", pending)
			}
		})
	}
}

func TestDecideApprovalRefusesBadInput(t *testing.T) {
	t.Parallel()
	db, _ := openTest(t)
	ctx := context.Background()
	if _, err := db.DecideApproval(ctx, "a1", DecisionOnce, "alice", t0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("DecideApproval on a store without approvals: %v; want ErrNotFound", err)
	}
	mustCreateApproval(t, db, testApproval("a1", "s1", t0))
	if _, err := db.DecideApproval(ctx, "a2", DecisionOnce, "alice", t0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("DecideApproval(a2): %v; want ErrNotFound", err)
	}
	if _, err := db.DecideApproval(ctx, "a1", "maybe", "alice", t0); err == nil || !strings.Contains(err.Error(), "unknown decision") {
		t.Fatalf("unknown decision: %v", err)
	}
	if _, err := db.DecideApproval(ctx, "a1", DecisionOnce, "", t0); err == nil || !strings.Contains(err.Error(), "empty decider") {
		t.Fatalf("empty decider: %v", err)
	}
	if a, _ := db.Approval(ctx, "a1"); a.State != ApprovalPending {
		t.Fatalf("refused decisions changed the state to %q", a.State)
	}
}

// TestDecideApprovalConcurrent races two different decisions on one
// approval, many times: exactly one wins, the other gets ErrDecided, and
// the stored decision is the winner's.
func TestDecideApprovalConcurrent(t *testing.T) {
	t.Parallel()
	db, _ := openTest(t)
	ctx := context.Background()
	const rounds = 200
	for i := range rounds {
		id := fmt.Sprintf("a%d", i)
		mustCreateApproval(t, db, testApproval(id, "s1", t0))
		deciders := [2]struct{ decision, by string }{{DecisionOnce, "alice"}, {DecisionDenyKill, "bob"}}
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			errs  [2]error
			got   [2]Approval
		)
		for j, d := range deciders {
			wg.Go(func() {
				<-start
				got[j], errs[j] = db.DecideApproval(ctx, id, d.decision, d.by, t0.Add(time.Second))
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for j, err := range errs {
			switch {
			case err == nil:
				if winner >= 0 {
					t.Fatalf("round %d: both decisions won", i)
				}
				winner = j
			case !errors.Is(err, ErrDecided):
				t.Fatalf("round %d: loser got %v; want ErrDecided", i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no decision won: %v", i, errs)
		}
		loser := 1 - winner
		stored, err := db.Approval(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if stored.DecidedBy != deciders[winner].by || stored.Decision != deciders[winner].decision {
			t.Fatalf("round %d: stored %s by %s; winner was %s by %s", i, stored.Decision, stored.DecidedBy, deciders[winner].decision, deciders[winner].by)
		}
		// The loser is told who won.
		if got[loser].DecidedBy != deciders[winner].by {
			t.Fatalf("round %d: loser was shown decider %q; want %q", i, got[loser].DecidedBy, deciders[winner].by)
		}
	}
}

func TestExpireApprovals(t *testing.T) {
	t.Parallel()
	db, _ := openTest(t)
	ctx := context.Background()
	if n, err := db.ExpireApprovals(ctx, t0, true); err != nil || n != 0 {
		t.Fatalf("ExpireApprovals on a store without approvals = %d, %v; want 0, nil", n, err)
	}
	for i := range 4 {
		a := testApproval(fmt.Sprintf("a%d", i), "s1", t0)
		a.Expires = t0.Add(time.Duration(i+1) * time.Minute)
		mustCreateApproval(t, db, a)
	}
	if _, err := db.DecideApproval(ctx, "a0", DecisionOnce, "alice", t0); err != nil {
		t.Fatal(err)
	}
	// At t0+2m: a1 (expires t0+2m) is due; a0 is decided; a2, a3 are not due.
	n, err := db.ExpireApprovals(ctx, t0.Add(2*time.Minute), false)
	if err != nil || n != 1 {
		t.Fatalf("ExpireApprovals(t0+2m) = %d, %v; want 1", n, err)
	}
	want := map[string]string{"a0": ApprovalApproved, "a1": ApprovalExpired, "a2": ApprovalPending, "a3": ApprovalPending}
	checkStates(t, db, want)
	// all=true expires what is left, whatever its Expires.
	if n, err = db.ExpireApprovals(ctx, t0, true); err != nil || n != 2 {
		t.Fatalf("ExpireApprovals(all) = %d, %v; want 2", n, err)
	}
	want["a2"], want["a3"] = ApprovalExpired, ApprovalExpired
	checkStates(t, db, want)
	a3, _ := db.Approval(ctx, "a3")
	if !strings.Contains(a3.Note, "restarted") {
		t.Fatalf("note after a restart expiry = %q; want it to say so", a3.Note)
	}
	if _, err := db.DecideApproval(ctx, "a3", DecisionOnce, "alice", t0); !errors.Is(err, ErrExpired) {
		t.Fatalf("decision on an expired approval: %v; want ErrExpired", err)
	}
	if n, _ = db.ExpireApprovals(ctx, t0.Add(time.Hour), true); n != 0 {
		t.Fatalf("a second ExpireApprovals expired %d; want 0", n)
	}
}

func checkStates(t *testing.T, db *DB, want map[string]string) {
	t.Helper()
	for id, state := range want {
		a, err := db.Approval(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if a.State != state {
			t.Errorf("%s: state %q; want %q", id, a.State, state)
		}
	}
}

// TestApprovalsSurviveRestart: pending approvals are on disk after a
// reopen, and the startup sweep marks them expired.
func TestApprovalsSurviveRestart(t *testing.T) {
	t.Parallel()
	db, path := openTest(t)
	ctx := context.Background()
	mustCreateApproval(t, db, testApproval("held", "s1", t0))
	mustCreateApproval(t, db, testApproval("done", "s1", t0))
	if _, err := db.DecideApproval(ctx, "done", DecisionSession, "alice", t0); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db2.Close() })
	pending, err := db2.Approvals(ctx, ApprovalFilter{State: ApprovalPending})
	if err != nil || len(pending) != 1 || pending[0].ID != "held" {
		t.Fatalf("pending after reopen = %v, %v; want [held]", pending, err)
	}
	if n, err := db2.ExpireApprovals(ctx, t0, true); err != nil || n != 1 {
		t.Fatalf("startup sweep = %d, %v; want 1", n, err)
	}
	checkStates(t, db2, map[string]string{"held": ApprovalExpired, "done": ApprovalApproved})
}

// TestThousandApprovals creates 1,000 approvals concurrently and resolves
// them: half decided concurrently, the rest by the expiry sweep.
func TestThousandApprovals(t *testing.T) {
	t.Parallel()
	db, _ := openTest(t)
	ctx := context.Background()
	const n = 1000
	var wg sync.WaitGroup
	errs := make(chan error, n+n/2) // room for every goroutine's error: a broken store fails the test, not hangs it
	for i := range n {
		wg.Go(func() {
			if err := db.CreateApproval(ctx, testApproval(fmt.Sprintf("a%04d", i), fmt.Sprintf("s%d", i%10), t0.Add(time.Duration(i)*time.Millisecond))); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	for i := 0; i < n; i += 2 {
		wg.Go(func() {
			d := DecisionOnce
			if i%4 == 0 {
				d = DecisionDeny
			}
			if _, err := db.DecideApproval(ctx, fmt.Sprintf("a%04d", i), d, "alice", t0.Add(time.Minute)); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	all, err := db.Approvals(ctx, ApprovalFilter{})
	if err != nil || len(all) != n {
		t.Fatalf("Approvals = %d, %v; want %d", len(all), err, n)
	}
	if all[0].ID != "a0999" || all[n-1].ID != "a0000" {
		t.Fatalf("order: first %s, last %s; want a0999 first, a0000 last", all[0].ID, all[n-1].ID)
	}
	expired, err := db.ExpireApprovals(ctx, t0.Add(time.Hour), false)
	if err != nil || expired != n/2 {
		t.Fatalf("ExpireApprovals = %d, %v; want %d", expired, err, n/2)
	}
	count := map[string]int{}
	for _, state := range []string{ApprovalPending, ApprovalApproved, ApprovalDenied, ApprovalExpired} {
		got, err := db.Approvals(ctx, ApprovalFilter{State: state})
		if err != nil {
			t.Fatal(err)
		}
		count[state] = len(got)
	}
	want := map[string]int{ApprovalPending: 0, ApprovalApproved: n / 4, ApprovalDenied: n / 4, ApprovalExpired: n / 2}
	for state, w := range want {
		if count[state] != w {
			t.Errorf("%s: %d; want %d", state, count[state], w)
		}
	}
	if s1, _ := db.Approvals(ctx, ApprovalFilter{Session: "s3", Limit: 5}); len(s1) != 5 || s1[0].ID != "a0993" {
		t.Fatalf("Approvals(s3, limit 5) = %d starting %v; want 5 starting a0993", len(s1), s1)
	}
}

// BenchmarkDecideApproval measures create plus decide, the durable cost
// of one step-up, with concurrent approvers sharing fsyncs.
func BenchmarkDecideApproval(b *testing.B) {
	db, _ := openTest(b)
	ctx := context.Background()
	var (
		mu sync.Mutex
		i  int
	)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			mu.Lock()
			i++
			id := fmt.Sprintf("a%d", i)
			mu.Unlock()
			if err := db.CreateApproval(ctx, testApproval(id, "s1", t0)); err != nil {
				b.Fatal(err)
			}
			if _, err := db.DecideApproval(ctx, id, DecisionOnce, "alice", t0.Add(time.Second)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestExpireApprovalTouchesOnlyItsOwn: expiring one approval early leaves
// the other pending ones pending, and leaves a decided one as decided.
func TestExpireApprovalTouchesOnlyItsOwn(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	now := time.Now()
	for _, id := range []string{"a1", "a2", "a3"} {
		if err := db.CreateApproval(ctx, Approval{ID: id, Session: "s", Tool: "t", Created: now, Expires: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.DecideApproval(ctx, "a3", DecisionOnce, "alice", now); err != nil {
		t.Fatal(err)
	}
	got, err := db.ExpireApproval(ctx, "a1", "cancelled")
	if err != nil || got.State != ApprovalExpired || got.Note != "cancelled" {
		t.Fatalf("ExpireApproval(a1) = %+v, %v", got, err)
	}
	if a, _ := db.Approval(ctx, "a2"); a.State != ApprovalPending {
		t.Fatalf("a2 became %s; only a1 was to expire", a.State)
	}
	if a, err := db.ExpireApproval(ctx, "a3", "late"); err != nil || a.State != ApprovalApproved {
		t.Fatalf("ExpireApproval on a decided approval = %+v, %v; want it left approved", a, err)
	}
	if _, err := db.DecideApproval(ctx, "a1", DecisionOnce, "bob", now); !errors.Is(err, ErrExpired) {
		t.Fatalf("decision on the expired approval: %v", err)
	}
	if _, err := db.ExpireApproval(ctx, "nope", "x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ExpireApproval of an unknown id: %v", err)
	}
}
