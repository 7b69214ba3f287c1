package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warden-dev/warden/notify"
	"github.com/warden-dev/warden/store"
)

// goroutineCounts are the process's goroutines by kind.
type goroutineCounts struct {
	// Supervisor are those running warden's supervisor code: held calls,
	// their timers and elicitations, kills.
	Supervisor int
	// Conns serve or read HTTP connections (idle keep-alive ones stay for
	// up to a transport's IdleConnTimeout, and are bounded by its pool).
	Conns int
	// Other is everything else.
	Other int
}

func countGoroutines() goroutineCounts {
	buf := make([]byte, 64<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var c goroutineCounts
	for g := range bytes.SplitSeq(buf, []byte("\n\n")) {
		switch {
		case bytes.Contains(g, []byte("warden-dev/warden/supervisor.")):
			c.Supervisor++
		case bytes.Contains(g, []byte("created by net/http.(*Transport).dialConn")),
			bytes.Contains(g, []byte("created by net/http.(*Server).Serve")),
			bytes.Contains(g, []byte("created by net/http.(*connReader).startBackgroundRead")):
			c.Conns++
		default:
			c.Other++
		}
	}
	return c
}

// TestThousandPendingApprovalsLeaveNoGoroutines holds 1,000 calls at once
// (raw tools/call POSTs over 10 sessions), decides every one through the
// admin API, and checks that every call returned approved and that the
// goroutines settle back.
func TestThousandPendingApprovalsLeaveNoGoroutines(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 held calls")
	}
	const sessions, perSession = 10, 100
	const total = sessions * perSession
	l := newLadder(t)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: total, MaxConnsPerHost: 0}}
	t.Cleanup(hc.CloseIdleConnections)

	ua := map[string]string{"User-Agent": "load/1"}
	sids := make([]string, sessions)
	for i := range sids {
		sids[i] = rawSession(t, hc, l.URL, opsToken, "load/1")
	}
	// Warm up every path once (hold, webhook, decision, forward), then
	// count.
	warm := make(chan string, 1)
	go func() {
		_, body, _, _ := ladderPost(hc, l.URL, opsToken, sids[0], toolCallBody(1, "pay", `{"amount":500,"to":"warm"}`), ua)
		warm <- body
	}()
	l.decide(t, l.pending(t, sids[0], 1)[0].ID, store.DecisionOnce)
	<-warm
	// Each session's own upstream session is opened by its first call and
	// lives as long as the session: it belongs to the baseline.
	for _, sid := range sids {
		if st, body, _, err := ladderPost(hc, l.URL, opsToken, sid, toolCallBody(1, "echo", `{"message":"warm"}`), ua); err != nil || st != 200 || !strings.Contains(body, "warm") {
			t.Fatalf("warm-up echo: %d %s %v", st, body, err)
		}
	}
	hc.CloseIdleConnections()
	settle(t, 10*time.Second, func() bool { return countGoroutines().Supervisor == 0 }, func() string { return "warm-up" })
	base := countGoroutines()

	start := time.Now()
	bodies := make(chan string, total)
	var wg sync.WaitGroup
	for s, sid := range sids {
		for i := range perSession {
			wg.Go(func() {
				st, body, _, err := ladderPost(hc, l.URL, opsToken, sid, toolCallBody(2+i, "pay", `{"amount":500,"to":"s`+string(rune('a'+s))+`"}`), ua)
				if err != nil || st != 200 {
					body = "failed: " + body
				}
				bodies <- body
			})
		}
	}
	var pending []store.Approval
	waitFor(t, 60*time.Second, "1,000 pending approvals", func() bool {
		var err error
		pending, err = l.Store.Approvals(context.Background(), store.ApprovalFilter{State: store.ApprovalPending})
		return err == nil && len(pending) == total
	})
	held := time.Since(start)
	peak := countGoroutines()
	if peak.Supervisor < total {
		t.Fatalf("%d goroutines in the supervisor with %d calls held: the calls are not held", peak.Supervisor, total)
	}

	start = time.Now()
	ids := make(chan string, total)
	for _, a := range pending {
		ids <- a.ID
	}
	close(ids)
	var dw sync.WaitGroup
	for range 16 {
		dw.Go(func() {
			for id := range ids {
				if st, body := l.decide(t, id, store.DecisionOnce); st != 200 {
					t.Errorf("decide %s: %d %s", id, st, body)
				}
			}
		})
	}
	dw.Wait()
	wg.Wait()
	resolved := time.Since(start)
	close(bodies)
	paid := 0
	for b := range bodies {
		if !strings.Contains(b, "paid 500 to s") {
			t.Fatalf("a held call did not return its result: %s", b)
		}
		paid++
	}
	for _, sid := range sids {
		evs, tl := l.timeline(t, sid)
		if got := strings.Join(tl, " "); strings.Contains(got, "signal") || len(evs) < 3*perSession {
			t.Fatalf("session %s: %d events, or a signal: %.200s", sid, len(evs), got)
		}
	}
	if paid != total || l.Up.paid.Load() != total+1 {
		t.Fatalf("%d calls returned, %d paid upstream; want %d", paid, l.Up.paid.Load(), total)
	}

	hc.CloseIdleConnections()
	var after goroutineCounts
	settle(t, 20*time.Second, func() bool {
		after = countGoroutines()
		// Idle keep-alive connections (warden to the upstream, the
		// notifier to the receiver) may stay, bounded by their pools;
		// anything else must go back to where it was.
		return after.Supervisor <= base.Supervisor && after.Other <= base.Other+4
	}, func() string { return fmt.Sprintf("baseline %+v, now %+v", base, countGoroutines()) })
	t.Logf("1,000 calls held in %s, resolved through the API in %s (%.0f decisions/s); goroutines before %+v, at peak %+v, after %+v; webhooks received %v (the notifier drops beyond %d in flight)",
		held.Round(time.Millisecond), resolved.Round(time.Millisecond), float64(total)/resolved.Seconds(), base, peak, after, hooks(l), notify.MaxInFlight)
	left, err := l.Store.Approvals(context.Background(), store.ApprovalFilter{State: store.ApprovalPending})
	if err != nil || len(left) != 0 {
		t.Fatalf("%d approvals still pending (%v)", len(left), err)
	}
}

// settle polls cond until it holds or d passes, then fails with a dump of
// the supervisor's goroutines.
func settle(t *testing.T, d time.Duration, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			var left []string
			byTop := map[string]int{}
			for g := range bytes.SplitSeq(buf, []byte("\n\n")) {
				if bytes.Contains(g, []byte("warden-dev/warden/supervisor.")) && len(left) < 3 {
					left = append(left, string(g))
				}
				if lines := strings.Split(string(g), "\n"); len(lines) > 1 {
					byTop[lines[len(lines)-2]]++ // where the goroutine was started
				}
			}
			t.Fatalf("%s: goroutines did not settle within %s (%d total; by creator %v); supervisor ones:\n%s", what(), d, runtime.NumGoroutine(), byTop, strings.Join(left, "\n\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// hooks counts the webhooks received, by type.
func hooks(l *ladder) map[string]int {
	l.Hook.mu.Lock()
	defer l.Hook.mu.Unlock()
	out := map[string]int{}
	for _, d := range l.Hook.got {
		out[d.Msg.Type]++
	}
	return out
}
