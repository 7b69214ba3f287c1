package store

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warden-dev/warden/internal/testkit"
)

// TestConcurrentWritesSurviveReopen writes from many goroutines, closes,
// reopens the file and checks every chain.
func TestConcurrentWritesSurviveReopen(t *testing.T) {
	db, path := openTest(t)
	ctx := context.Background()
	const writers, perWriter = 16, 25
	for i := 0; i < writers; i++ {
		mustCreate(t, db, fmt.Sprintf("s%02d", i), "a", time.Now())
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers*perWriter)
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func(id string) {
			defer wg.Done()
			for j := 0; j < perWriter; j++ {
				// Two goroutines per session would race for seq; one per
				// session plus a shared system log exercises both.
				target := id
				if j%5 == 0 {
					target = SystemLog
				}
				if _, err := db.Append(ctx, target, Event{Kind: KindCall, Tool: "t", CallID: fmt.Sprint(j)}); err != nil {
					errs <- err
				}
			}
		}(fmt.Sprintf("s%02d", i))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	rounds := db.j.syncs.Load()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// 400 appends from 16 goroutines, each waiting for an fsync: if each
	// were synced on its own there would be 400 fsyncs.
	if rounds >= writers*perWriter {
		t.Errorf("%d fsyncs for %d appends: no group commit", rounds, writers*perWriter)
	}
	t.Logf("%d appends in %d fsyncs", writers*perWriter, rounds)

	db2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db2.Close() })
	rep, err := db2.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sessions != writers+1 || rep.Events != writers*perWriter || len(rep.Broken) != 0 {
		t.Errorf("Verify after reopen: %+v", rep)
	}
	sys, _ := db2.Events(ctx, SystemLog)
	if len(sys) != writers*perWriter/5 {
		t.Errorf("system log has %d events, want %d", len(sys), writers*perWriter/5)
	}
	for i := 0; i < writers; i++ {
		evs, err := db2.Events(ctx, fmt.Sprintf("s%02d", i))
		if err != nil || len(evs) != perWriter-perWriter/5 {
			t.Errorf("s%02d: %d events, %v", i, len(evs), err)
		}
	}
}

// holdWriter blocks the writer goroutine inside an UpdateSession fn until
// the returned release is called. It returns once the fn is running.
func holdWriter(t *testing.T, db *DB, id string) (release func(), done <-chan error) {
	t.Helper()
	entered, gate := make(chan struct{}), make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- db.UpdateSession(context.Background(), id, func(*Session) error {
			close(entered)
			<-gate
			return nil
		})
	}()
	<-entered
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	t.Cleanup(release)
	return release, errc
}

// waitPending waits until n ops are queued behind the writer.
func waitPending(t *testing.T, db *DB, n int) {
	t.Helper()
	testkit.WaitFor(t, 10*time.Second, fmt.Sprintf("%d ops queued behind the writer", n), func() bool {
		db.w.mu.Lock()
		defer db.w.mu.Unlock()
		return len(db.w.pending) == n
	})
}

func TestCancelBeforeTakenDropsTheWrite(t *testing.T) {
	db, _ := openTest(t)
	mustCreate(t, db, "s1", "a", time.Now())
	release, held := holdWriter(t, db, "s1")

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- db.CreateSession(ctx, Session{ID: "dropped", Agent: "a"}) }()
	waitPending(t, db, 1)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled CreateSession: %v, want context.Canceled", err)
	}
	waitPending(t, db, 0) // withdrawn from the queue
	release()
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	if _, err := db.Session(context.Background(), "dropped"); !errors.Is(err, ErrNotFound) {
		t.Errorf("the withdrawn session: %v, want ErrNotFound", err)
	}
}

// TestCancelledAppendIsNotWritten: an append whose ctx ends before it is
// written to the log (here, while another holds the log) returns
// ctx.Err() and leaves no event; the chain goes on without a gap.
func TestCancelledAppendIsNotWritten(t *testing.T) {
	db, _ := openTest(t)
	mustCreate(t, db, "s1", "a", time.Now())
	db.j.wmu.Lock()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := db.Append(ctx, "s1", Event{Kind: KindCall, Tool: "dropped"})
		errc <- err
	}()
	cancel()
	db.j.wmu.Unlock()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Append: %v, want context.Canceled", err)
	}
	mustAppend(t, db, "s1", "kept")
	evs, _ := db.Events(context.Background(), "s1")
	if len(evs) != 1 || evs[0].Tool != "kept" || evs[0].Seq != 1 {
		t.Errorf("events: %+v", evs)
	}
}

// TestAppendsDoNotWaitForBbolt: an append is durable in the log without
// waiting for bbolt: it returns while the writer is held inside a bbolt
// transaction, and reads see it once the writer is free.
func TestAppendsDoNotWaitForBbolt(t *testing.T) {
	db, _ := openTest(t)
	mustCreate(t, db, "s1", "a", time.Now())
	release, held := holdWriter(t, db, "s1")
	type result struct {
		ev  Event
		err error
	}
	resc := make(chan result, 1)
	go func() {
		ev, err := db.Append(context.Background(), "s1", Event{Kind: KindCall, Tool: "while bbolt is busy"})
		resc <- result{ev, err}
	}()
	var ev Event
	select {
	case r := <-resc:
		if r.err != nil || r.ev.Seq != 1 {
			t.Fatalf("appended %+v, %v", r.ev, r.err)
		}
		ev = r.ev
	case <-time.After(10 * time.Second):
		t.Fatal("the append waited for the writer's bbolt transaction")
	}
	release()
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	evs, err := db.Events(context.Background(), "s1")
	if err != nil || len(evs) != 1 || evs[0].Hash != ev.Hash {
		t.Fatalf("events: %+v, %v", evs, err)
	}
}

func TestCancelAfterTakenCompletes(t *testing.T) {
	db, _ := openTest(t)
	mustCreate(t, db, "s1", "a", time.Now())
	releaseA, heldA := holdWriter(t, db, "s1")

	// B (another blocking fn) and C (a create) queue behind A, so the
	// next round takes both; B then blocks while C is taken but unwritten.
	enteredB, gateB := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() {
		select {
		case <-gateB:
		default:
			close(gateB)
		}
	})
	heldB := make(chan error, 1)
	go func() {
		heldB <- db.UpdateSession(context.Background(), "s1", func(*Session) error {
			close(enteredB)
			<-gateB
			return nil
		})
	}()
	waitPending(t, db, 1)
	ctx, cancel := context.WithCancel(context.Background())
	// released is set just before B's round may finish; Append notes
	// whether it was when it returns, so an Append that returned on
	// cancel while its round still ran is caught without timing it.
	var released atomic.Bool
	type result struct {
		err        error
		afterRound bool
	}
	resc := make(chan result, 1)
	go func() {
		err := db.CreateSession(ctx, Session{ID: "taken", Agent: "a"})
		resc <- result{err, released.Load()}
	}()
	waitPending(t, db, 2)
	releaseA()
	<-enteredB // the round holding B and C has begun
	cancel()
	released.Store(true)
	close(gateB)
	r := <-resc
	if !r.afterRound {
		t.Fatalf("CreateSession returned while its round was running: %+v", r)
	}
	if r.err != nil {
		t.Fatalf("taken CreateSession: %+v", r)
	}
	if _, err := db.Session(context.Background(), "taken"); err != nil {
		t.Fatalf("the taken session: %v", err)
	}
	for _, c := range []<-chan error{heldA, heldB} {
		if err := <-c; err != nil {
			t.Fatal(err)
		}
	}
}

// TestOwnErrors shows that in one round each caller gets its own error.
func TestOwnErrors(t *testing.T) {
	db, _ := openTest(t)
	mustCreate(t, db, "s1", "a", time.Now())
	release, held := holdWriter(t, db, "s1")
	ctx := context.Background()
	good := make(chan error, 1)
	dup := make(chan error, 1)
	go func() { good <- db.CreateSession(ctx, Session{ID: "s2", Agent: "a"}) }()
	waitPending(t, db, 1)
	go func() { dup <- db.CreateSession(ctx, Session{ID: "s1"}) }()
	waitPending(t, db, 2)
	release()
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	if err := <-good; err != nil {
		t.Errorf("good create in a round with a failing op: %v", err)
	}
	if err := <-dup; !errors.Is(err, ErrExists) {
		t.Errorf("duplicate create: %v, want ErrExists", err)
	}
}

func TestCloseDrainsQueuedWrites(t *testing.T) {
	db, path := openTest(t)
	mustCreate(t, db, "s1", "a", time.Now())
	release, held := holdWriter(t, db, "s1")
	const n = 10
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := db.CreateSession(context.Background(), Session{ID: fmt.Sprint("q", i), Agent: "a"}); err != nil {
				t.Error(err)
			}
		}()
	}
	waitPending(t, db, n)
	closed := make(chan error, 1)
	go func() { closed <- db.Close() }()
	testkit.WaitFor(t, 10*time.Second, "Close to begin", db.w.isClosed)
	if _, err := db.Append(context.Background(), "s1", Event{Kind: KindCall}); !errors.Is(err, ErrClosed) {
		t.Errorf("Append during Close: %v, want ErrClosed", err)
	}
	release()
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	db2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	for i := 0; i < n; i++ {
		if _, err := db2.Session(context.Background(), fmt.Sprint("q", i)); err != nil {
			t.Errorf("session q%d after Close drained: %v", i, err)
		}
	}
}

func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	for _, naive := range []bool{false, true} {
		dir := t.TempDir()
		db, err := Open(dir+"/w.db", func(o *options) { o.naive = naive })
		if err != nil {
			t.Fatal(err)
		}
		mustCreate(t, db, "s1", "a", time.Now())
		mustAppend(t, db, "s1", "x")
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if after := runtime.NumGoroutine(); after > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines before, %d after Close:\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}
}

// TestAbortedWriteRetriesTheRest: an op whose Put fails mid-transaction
// (a key longer than bbolt allows) fails alone; the round is retried
// without it and the other ops commit once each.
func TestAbortedWriteRetriesTheRest(t *testing.T) {
	db, _ := openTest(t)
	mustCreate(t, db, "s1", "a", time.Now())
	release, held := holdWriter(t, db, "s1")
	ctx := context.Background()
	results := make([]chan error, 3)
	for i := range results {
		results[i] = make(chan error, 1)
	}
	go func() { results[0] <- db.CreateSession(ctx, Session{ID: "first", Agent: "a"}) }()
	waitPending(t, db, 1)
	huge := string(make([]byte, 40000))
	go func() { results[1] <- db.CreateSession(ctx, Session{ID: "x" + huge}) }()
	waitPending(t, db, 2)
	go func() { results[2] <- db.CreateSession(ctx, Session{ID: "second", Agent: "a"}) }()
	waitPending(t, db, 3)
	release()
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	if err := <-results[0]; err != nil {
		t.Errorf("first create: %v", err)
	}
	if err := <-results[1]; err == nil || !strings.Contains(err.Error(), "key too large") {
		t.Errorf("oversized create: %v, want key too large", err)
	}
	if err := <-results[2]; err != nil {
		t.Errorf("second create: %v", err)
	}
	for _, id := range []string{"first", "second"} {
		if _, err := db.Session(ctx, id); err != nil {
			t.Errorf("session %s: %v", id, err)
		}
	}
	if rep, _ := db.Verify(ctx); len(rep.Broken) != 0 {
		t.Errorf("Verify: %+v", rep)
	}
}
