// Package storetest is the contract of store.Store as tests: every
// implementation (bbolt's store.DB, store/postgres) runs Run, so that
// they cannot drift apart.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/warden-dev/warden/store"
)

// Run runs the contract on stores that open gives, a fresh empty one per
// subtest; open closes what it opens at the subtest's cleanup.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, st store.Store)
	}{
		{"ChainAndVerify", chainAndVerify},
		{"ConcurrentAppendsKeepOneChain", concurrentAppends},
		{"ConcurrentDecisionsHaveOneWinner", concurrentDecisions},
		{"UpdateSessionIsAtomic", updateAtomic},
		{"UpdateSessionRefusesStoreFields", updateRefuses},
		{"Pins", pins},
		{"Agents", agents},
		{"SessionsFilterAndOrder", sessionsFilter},
		{"Errors", errorsContract},
		{"ApprovalExpiry", approvalExpiry},
		{"AppendWithData", appendWithData},
		{"EventsAfterAndBaselines", eventsAfterAndBaselines},
		{"FlagsReviewedOnce", flagsReviewedOnce},
		{"Closed", closed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

var t0 = time.Date(2026, 11, 30, 12, 0, 0, 123456789, time.UTC)

func create(t *testing.T, st store.Store, id, agent string, started time.Time) {
	t.Helper()
	if err := st.CreateSession(context.Background(), store.Session{ID: id, Agent: agent, Started: started}); err != nil {
		t.Fatalf("CreateSession(%s): %v", id, err)
	}
}

func appendCall(t *testing.T, st store.Store, id, tool string) store.Event {
	t.Helper()
	ev, err := st.Append(context.Background(), id, store.Event{Kind: store.KindCall, Tool: tool, Args: json.RawMessage(`{ "path": "/tmp/x" }`), Verdict: "allow"})
	if err != nil {
		t.Fatalf("Append(%s, %s): %v", id, tool, err)
	}
	return ev
}

func verifyIntact(t *testing.T, st store.Store) store.Report {
	t.Helper()
	rep, err := st.Verify(context.Background())
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if len(rep.Broken) > 0 {
		t.Fatalf("Verify: broken chains: %+v", rep.Broken)
	}
	return rep
}

func chainAndVerify(t *testing.T, st store.Store) {
	ctx := context.Background()
	create(t, st, "s1", "a", t0)
	var want []store.Event
	for _, tool := range []string{"read", "write", "exec"} {
		want = append(want, appendCall(t, st, "s1", tool))
	}
	if _, err := st.Append(ctx, store.SystemLog, store.Event{Kind: store.KindToolChanged}); err != nil {
		t.Fatalf("Append(system log): %v", err)
	}
	got, err := st.Events(ctx, "s1")
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	if len(got) != 3 {
		t.Fatalf("Events: %d, want 3", len(got))
	}
	prev := ""
	for i, ev := range got {
		if ev.Seq != uint64(i+1) || ev.Prev != prev || ev.Hash == "" || ev.Hash != want[i].Hash || ev.Tool != want[i].Tool {
			t.Errorf("event %d: seq %d prev %q hash %q tool %q; want seq %d prev %q hash %q", i, ev.Seq, ev.Prev, ev.Hash, ev.Tool, i+1, prev, want[i].Hash)
		}
		if string(ev.Args) != `{"path":"/tmp/x"}` {
			t.Errorf("event %d: args %s, want them compacted", i, ev.Args)
		}
		prev = ev.Hash
	}
	s, err := st.Session(ctx, "s1")
	if err != nil {
		t.Fatalf("Session: %v", err)
	}
	if s.LastSeq != 3 || s.Head != prev || !s.Started.Equal(t0) {
		t.Errorf("session head (%d, %q) started %v; want (3, %q) started %v", s.LastSeq, s.Head, s.Started, prev, t0)
	}
	rep := verifyIntact(t, st)
	if rep.Events < 4 || rep.Sessions < 2 {
		t.Errorf("Verify checked %d sessions, %d events; want at least 2 and 4", rep.Sessions, rep.Events)
	}
}

func concurrentAppends(t *testing.T, st store.Store) {
	ctx := context.Background()
	create(t, st, "s1", "a", t0)
	const writers, each = 16, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if _, err := st.Append(ctx, "s1", store.Event{Kind: store.KindCall, Tool: fmt.Sprintf("w%d-%d", w, i)}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Append: %v", err)
	}
	evs, err := st.Events(ctx, "s1")
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	if len(evs) != writers*each {
		t.Fatalf("Events: %d, want %d", len(evs), writers*each)
	}
	seen := map[string]bool{}
	for i, ev := range evs {
		if ev.Seq != uint64(i+1) || (i > 0 && ev.Prev != evs[i-1].Hash) {
			t.Fatalf("event %d: seq %d, prev %q: the chain has a gap or a fork", i, ev.Seq, ev.Prev)
		}
		seen[ev.Tool] = true
	}
	if len(seen) != writers*each {
		t.Errorf("%d distinct events stored, want %d", len(seen), writers*each)
	}
	verifyIntact(t, st)
}

func pendingApproval(t *testing.T, st store.Store, id string, expires time.Time) {
	t.Helper()
	err := st.CreateApproval(context.Background(), store.Approval{ID: id, Session: "s1", Agent: "a", Tool: "rm", Args: json.RawMessage(`{"p": 1}`), Created: t0, Expires: expires})
	if err != nil {
		t.Fatalf("CreateApproval(%s): %v", id, err)
	}
}

func concurrentDecisions(t *testing.T, st store.Store) {
	ctx := context.Background()
	pendingApproval(t, st, "ap1", t0.Add(time.Hour))
	const deciders = 16
	var (
		wg              sync.WaitGroup
		mu              sync.Mutex
		winners, losers int
		other           []error
	)
	for i := 0; i < deciders; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			decision := store.DecisionOnce
			if i%2 == 1 {
				decision = store.DecisionDeny
			}
			_, err := st.DecideApproval(ctx, "ap1", decision, fmt.Sprintf("admin%d", i), t0.Add(time.Minute))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				winners++
			case errors.Is(err, store.ErrDecided):
				losers++
			default:
				other = append(other, err)
			}
		}()
	}
	wg.Wait()
	if winners != 1 || losers != deciders-1 || len(other) > 0 {
		t.Fatalf("%d winners, %d ErrDecided, other errors %v; want 1 and %d", winners, losers, other, deciders-1)
	}
	a, err := st.Approval(ctx, "ap1")
	if err != nil {
		t.Fatalf("Approval: %v", err)
	}
	if a.State != store.ApprovalApproved && a.State != store.ApprovalDenied || a.DecidedBy == "" {
		t.Errorf("approval after the decision: %+v", a)
	}
}

func updateAtomic(t *testing.T, st store.Store) {
	ctx := context.Background()
	create(t, st, "s1", "a", t0)
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- st.UpdateSession(ctx, "s1", func(s *store.Session) error {
				s.Reason += "x" // a lost update would lose an x
				return nil
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("UpdateSession: %v", err)
		}
	}
	boom := errors.New("boom")
	err := st.UpdateSession(ctx, "s1", func(s *store.Session) error {
		s.State, s.Reason = store.StateKilled, "half done"
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("UpdateSession with a failing fn: %v, want it to wrap fn's error", err)
	}
	s, err := st.Session(ctx, "s1")
	if err != nil {
		t.Fatalf("Session: %v", err)
	}
	if len(s.Reason) != n || s.State != store.StateActive {
		t.Errorf("session after %d updates and one aborted: reason %q (%d), state %q; want %d x and active", n, s.Reason, len(s.Reason), s.State, n)
	}
}

func updateRefuses(t *testing.T, st store.Store) {
	ctx := context.Background()
	create(t, st, "s1", "a", t0)
	appendCall(t, st, "s1", "read")
	for name, fn := range map[string]func(*store.Session){
		"LastSeq": func(s *store.Session) { s.LastSeq = 7 },
		"Head":    func(s *store.Session) { s.Head = "x" },
		"Data":    func(s *store.Session) { s.Data = json.RawMessage(`{"a":1}`) },
		"State":   func(s *store.Session) { s.State = "bogus" },
		"Started": func(s *store.Session) { s.Started = t0.Add(time.Hour) },
	} {
		if err := st.UpdateSession(ctx, "s1", func(s *store.Session) error { fn(s); return nil }); err == nil {
			t.Errorf("UpdateSession changing %s: no error", name)
		}
	}
	verifyIntact(t, st)
}

func pins(t *testing.T, st store.Store) {
	ctx := context.Background()
	steps := []struct{ hash, wantPrev string }{{"h1", ""}, {"h1", "h1"}, {"h2", "h1"}, {"h2", "h2"}}
	for _, s := range steps {
		prev, err := st.Pin(ctx, "up/tool", s.hash)
		if err != nil || prev != s.wantPrev {
			t.Errorf("Pin(%s) = %q, %v; want %q", s.hash, prev, err, s.wantPrev)
		}
	}
	if h, err := st.Pinned(ctx, "up/tool"); err != nil || h != "h2" {
		t.Errorf("Pinned = %q, %v; want h2", h, err)
	}
	if h, err := st.Pinned(ctx, "none"); err != nil || h != "" {
		t.Errorf("Pinned(none) = %q, %v; want empty", h, err)
	}
	if _, err := st.Pin(ctx, "", "h"); err == nil {
		t.Error("Pin with an empty key: no error")
	}
}

func agents(t *testing.T, st store.Store) {
	ctx := context.Background()
	recs := []store.AgentRecord{
		{Name: "a", Suspended: true, Reason: "r", By: "admin", Changed: t0},
		{Name: "b", Suspended: true, Changed: t0},
		{Name: "a", Suspended: false, By: "admin", Changed: t0.Add(time.Minute)},
	}
	for _, r := range recs {
		if err := st.SetAgentSuspended(ctx, r); err != nil {
			t.Fatalf("SetAgentSuspended: %v", err)
		}
	}
	got, err := st.AgentRecords(ctx)
	if err != nil {
		t.Fatalf("AgentRecords: %v", err)
	}
	if len(got) != 2 || got["a"].Suspended || !got["b"].Suspended || !got["a"].Changed.Equal(t0.Add(time.Minute)) {
		t.Errorf("AgentRecords = %+v", got)
	}
}

func sessionsFilter(t *testing.T, st store.Store) {
	ctx := context.Background()
	create(t, st, "old", "a", t0)
	create(t, st, "mid", "b", t0.Add(time.Nanosecond)) // nanoseconds order them
	create(t, st, "new", "a", t0.Add(2*time.Nanosecond))
	create(t, st, "tie", "a", t0.Add(2*time.Nanosecond))
	if _, err := st.Append(ctx, store.SystemLog, store.Event{Kind: store.KindToolChanged}); err != nil {
		t.Fatalf("Append(system log): %v", err)
	}
	if err := st.UpdateSession(ctx, "mid", func(s *store.Session) error { s.State = store.StateKilled; return nil }); err != nil {
		t.Fatalf("UpdateSession: %v", err)
	}
	tests := []struct {
		name string
		f    store.Filter
		want []string
	}{
		{"all, newest first", store.Filter{}, []string{"tie", "new", "mid", "old"}},
		{"agent", store.Filter{Agent: "a"}, []string{"tie", "new", "old"}},
		{"state", store.Filter{State: store.StateKilled}, []string{"mid"}},
		{"since", store.Filter{Since: t0.Add(time.Nanosecond)}, []string{"tie", "new", "mid"}},
		{"until", store.Filter{Until: t0.Add(2 * time.Nanosecond)}, []string{"mid", "old"}},
		{"limit", store.Filter{Limit: 2}, []string{"tie", "new"}},
	}
	for _, tc := range tests {
		got, err := st.Sessions(ctx, tc.f)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		ids := make([]string, len(got))
		for i, s := range got {
			ids[i] = s.ID
		}
		if fmt.Sprint(ids) != fmt.Sprint(tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, ids, tc.want)
		}
	}
	if _, err := st.Sessions(ctx, store.Filter{Limit: -1}); err == nil {
		t.Error("Sessions with a negative limit: no error")
	}
}

func errorsContract(t *testing.T, st store.Store) {
	ctx := context.Background()
	create(t, st, "s1", "a", t0)
	pendingApproval(t, st, "ap1", t0.Add(time.Hour))
	_, missingSession := st.Session(ctx, "nope")
	_, appendMissing := st.Append(ctx, "nope", store.Event{Kind: store.KindCall})
	_, eventsMissing := st.Events(ctx, "nope")
	_, approvalMissing := st.Approval(ctx, "nope")
	_, decideMissing := st.DecideApproval(ctx, "nope", store.DecisionOnce, "admin", t0)
	_, first := st.DecideApproval(ctx, "ap1", store.DecisionDenyKill, "admin", t0)
	_, second := st.DecideApproval(ctx, "ap1", store.DecisionOnce, "other", t0)
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"Session of a missing id", missingSession, store.ErrNotFound},
		{"Append to a missing session", appendMissing, store.ErrNotFound},
		{"Events of a missing session", eventsMissing, store.ErrNotFound},
		{"UpdateSession of a missing session", st.UpdateSession(ctx, "nope", func(*store.Session) error { return nil }), store.ErrNotFound},
		{"CreateSession twice", st.CreateSession(ctx, store.Session{ID: "s1"}), store.ErrExists},
		{"Approval of a missing id", approvalMissing, store.ErrNotFound},
		{"CreateApproval twice", st.CreateApproval(ctx, store.Approval{ID: "ap1", Session: "s1", Tool: "rm", Expires: t0.Add(time.Hour), Created: t0}), store.ErrExists},
		{"DecideApproval of a missing id", decideMissing, store.ErrNotFound},
		{"the first decision", first, nil},
		{"a second decision", second, store.ErrDecided},
	}
	for _, tc := range tests {
		if tc.want == nil && tc.err != nil || tc.want != nil && !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, tc.err, tc.want)
		}
	}
	a, err := st.Approval(ctx, "ap1")
	if err != nil || a.State != store.ApprovalDenied || a.Decision != store.DecisionDenyKill || a.DecidedBy != "admin" {
		t.Errorf("approval after deny_kill then once: %+v, %v", a, err)
	}
	for name, bad := range map[string]store.Event{
		"no kind":  {},
		"seq set":  {Kind: store.KindCall, Seq: 3},
		"hash set": {Kind: store.KindCall, Hash: "x"},
	} {
		if _, err := st.Append(ctx, "s1", bad); err == nil {
			t.Errorf("Append with %s: no error", name)
		}
	}
}

func approvalExpiry(t *testing.T, st store.Store) {
	ctx := context.Background()
	pendingApproval(t, st, "late", t0.Add(time.Minute))
	pendingApproval(t, st, "soon", t0.Add(2*time.Minute))
	pendingApproval(t, st, "later", t0.Add(time.Hour))
	pendingApproval(t, st, "gone", t0.Add(time.Hour))
	a, err := st.DecideApproval(ctx, "late", store.DecisionOnce, "admin", t0.Add(time.Minute))
	if !errors.Is(err, store.ErrExpired) || a.State != store.ApprovalExpired {
		t.Errorf("deciding at Expires: %+v, %v; want expired, ErrExpired", a, err)
	}
	if _, err := st.DecideApproval(ctx, "late", store.DecisionOnce, "admin", t0); !errors.Is(err, store.ErrExpired) {
		t.Errorf("deciding an expired approval: %v, want ErrExpired", err)
	}
	if a, err := st.ExpireApproval(ctx, "gone", "agent left"); err != nil || a.State != store.ApprovalExpired || a.Note != "agent left" {
		t.Errorf("ExpireApproval: %+v, %v", a, err)
	}
	n, err := st.ExpireApprovals(ctx, t0.Add(3*time.Minute), false)
	if err != nil || n != 1 {
		t.Errorf("ExpireApprovals(after soon) = %d, %v; want 1", n, err)
	}
	pending, err := st.Approvals(ctx, store.ApprovalFilter{State: store.ApprovalPending})
	if err != nil || len(pending) != 1 || pending[0].ID != "later" {
		t.Errorf("pending approvals: %+v, %v; want later only", pending, err)
	}
	if n, err := st.ExpireApprovals(ctx, t0, true); err != nil || n != 1 {
		t.Errorf("ExpireApprovals(all) = %d, %v; want 1", n, err)
	}
	all, err := st.Approvals(ctx, store.ApprovalFilter{Session: "s1"})
	if err != nil || len(all) != 4 {
		t.Fatalf("Approvals: %d, %v; want 4", len(all), err)
	}
	for _, a := range all {
		if a.State != store.ApprovalExpired {
			t.Errorf("approval %s: %s, want expired", a.ID, a.State)
		}
	}
}

func appendWithData(t *testing.T, st store.Store) {
	ctx := context.Background()
	create(t, st, "s1", "a", t0)
	ev, err := st.AppendWithData(ctx, "s1", store.Event{Kind: store.KindCall}, json.RawMessage(`{"node": "b"}`))
	if err != nil {
		t.Fatalf("AppendWithData: %v", err)
	}
	s, err := st.Session(ctx, "s1")
	if err != nil {
		t.Fatalf("Session: %v", err)
	}
	if string(s.Data) != `{"node":"b"}` || ev.DataSHA256 == "" || s.Head != ev.Hash {
		t.Errorf("after AppendWithData: data %s, digest %q, head %q (event %q)", s.Data, ev.DataSHA256, s.Head, ev.Hash)
	}
	if rep := verifyIntact(t, st); rep.Uncommitted != 0 {
		t.Errorf("Verify: %d uncommitted, want 0", rep.Uncommitted)
	}
}

// eventsAfterAndBaselines checks what warden serve uses besides
// store.Store: the export sink's EventsAfter and store.Baselines.
func eventsAfterAndBaselines(t *testing.T, st store.Store) {
	ctx := context.Background()
	ea, ok := st.(interface {
		EventsAfter(ctx context.Context, sessionID string, after uint64, limit int) ([]store.Event, error)
	})
	if !ok {
		t.Fatalf("%T has no EventsAfter", st)
	}
	bs, ok := st.(store.Baselines)
	if !ok {
		t.Fatalf("%T is not a store.Baselines", st)
	}
	create(t, st, "s1", "a", t0)
	for _, tool := range []string{"a", "b", "c", "d"} {
		appendCall(t, st, "s1", tool)
	}
	evs, err := ea.EventsAfter(ctx, "s1", 1, 2)
	if err != nil || len(evs) != 2 || evs[0].Seq != 2 || evs[1].Seq != 3 {
		t.Errorf("EventsAfter(1, 2) = %+v, %v; want events 2 and 3", evs, err)
	}
	if _, err := ea.EventsAfter(ctx, "nope", 0, 1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("EventsAfter of a missing session: %v, want ErrNotFound", err)
	}
	if _, err := ea.EventsAfter(ctx, store.SystemLog, 0, 1); err != nil {
		t.Errorf("EventsAfter of the system log: %v; it always exists", err)
	}
	if _, err := bs.Baseline(ctx, "a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Baseline before any: %v, want ErrNotFound", err)
	}
	for _, b := range []string{`{"v":1}`, `{"v":2}`} {
		if err := bs.SaveBaseline(ctx, "a", json.RawMessage(b)); err != nil {
			t.Fatalf("SaveBaseline: %v", err)
		}
	}
	if b, err := bs.Baseline(ctx, "a"); err != nil || string(b) != `{"v":2}` {
		t.Errorf("Baseline = %s, %v; want the last saved", b, err)
	}
	if err := bs.SaveBaseline(ctx, "a", json.RawMessage(`{`)); err == nil {
		t.Error("SaveBaseline of invalid JSON: no error")
	}
}

func flagsReviewedOnce(t *testing.T, st store.Store) {
	ctx := context.Background()
	create(t, st, "s1", "a", t0)
	appendCall(t, st, "s1", "read")
	flagged, err := st.Append(ctx, "s1", store.Event{Kind: store.KindCall, Tool: "rm", Verdict: "flag", Reasons: []string{"odd"}})
	if err != nil {
		t.Fatal(err)
	}
	id := store.FlagID("s1", flagged.Seq)
	list, err := st.Flags(ctx, store.FlagFilter{State: store.FlagOpen})
	if err != nil || len(list) != 1 || list[0].ID != id || list[0].Tool != "rm" {
		t.Fatalf("open flags: %+v, %v; want %s", list, err, id)
	}
	if _, err := st.Flag(ctx, store.FlagID("s1", 1)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Flag of an unflagged event: %v, want ErrNotFound", err)
	}
	const reviewers = 16
	var wg sync.WaitGroup
	errs := make(chan error, reviewers)
	for i := 0; i < reviewers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := st.ReviewFlag(ctx, id, fmt.Sprint("admin", i), "seen")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	won := 0
	for err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrDecided):
			t.Errorf("ReviewFlag: %v, want nil or ErrDecided", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d reviews recorded, want exactly 1", won)
	}
	fl, err := st.Flag(ctx, id)
	if err != nil || fl.State != store.FlagReviewed || fl.Reviewer == "" {
		t.Errorf("flag after review: %+v, %v", fl, err)
	}
	evs, err := st.Events(ctx, "s1")
	if err != nil || len(evs) != 3 || evs[2].Kind != store.KindFlagReview {
		t.Errorf("chain after the reviews: %d events, %v; want one flag_review after the flag", len(evs), err)
	}
	verifyIntact(t, st)
}

func closed(t *testing.T, st store.Store) {
	ctx := context.Background()
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := st.CreateSession(ctx, store.Session{ID: "s1"}); !errors.Is(err, store.ErrClosed) {
		t.Errorf("CreateSession after Close: %v, want ErrClosed", err)
	}
	if _, err := st.Append(ctx, store.SystemLog, store.Event{Kind: store.KindCall}); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Append after Close: %v, want ErrClosed", err)
	}
}
