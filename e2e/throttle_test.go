package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"

	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
)

// Throttle: a token bucket per session and per agent. Within the burst
// calls go at once; a call that fits within MaxDelay waits; beyond that it
// is refused with when to retry.

// throttleOutcome is how one call of a burst ended.
type throttleOutcome string

const (
	wentAtOnce throttleOutcome = "allow"
	heldBack   throttleOutcome = "delayed"
	refused    throttleOutcome = "refused"
)

// echoOutcome calls echo and classifies the outcome by what the agent got
// and what warden recorded of the call; it also returns how long it took.
func echoOutcome(t *testing.T, l *ladder, c *client.Client, i int) (throttleOutcome, time.Duration) {
	t.Helper()
	start := time.Now()
	res := callTool(t, c, "echo", map[string]any{"message": i})
	took := time.Since(start)
	if res.IsError {
		if !strings.Contains(resultText(res), "warden refused this call (throttle): rate limit exceeded; retry after") {
			t.Fatalf("call %d: unexpected refusal %q", i, resultText(res))
		}
		return refused, took
	}
	evs, _ := l.timeline(t, c.GetSessionId())
	for j := len(evs) - 1; j >= 0; j-- {
		if e := evs[j]; e.Kind == store.KindCall {
			if e.Verdict == "throttle" && strings.Contains(strings.Join(e.Reasons, ";"), "held back") {
				return heldBack, took
			}
			if e.Verdict != "allow" {
				t.Fatalf("call %d went ahead recorded as %s %v", i, e.Verdict, e.Reasons)
			}
			return wentAtOnce, took
		}
	}
	t.Fatalf("call %d not recorded", i)
	return "", took
}

func TestThrottleSessionBurst(t *testing.T) {
	l := newLadder(t, func(o *supervisor.Options) {
		o.Escalation.SessionRate = supervisor.Rate{PerMinute: 60, Burst: 2}
		o.Escalation.MaxDelay = 300 * time.Millisecond
	})
	c := connect(t, l.URL, opsToken)
	sid := c.GetSessionId()
	// A burst: the bucket's 2 go at once, then calls are refused (the next
	// token is up to 1 s away, beyond the 300 ms bound) until the next
	// token is within 300 ms, when one call is held back for it.
	var seen []throttleOutcome
	var delay time.Duration
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; delay == 0; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("no call was held back within 5 s: %v", seen)
		}
		o, took := echoOutcome(t, l, c, i)
		seen = append(seen, o)
		if o == heldBack {
			delay = took
		}
		if o == refused {
			time.Sleep(20 * time.Millisecond) // the agent's pace, not synchronisation
		}
	}
	if len(seen) < 4 || seen[0] != wentAtOnce || seen[1] != wentAtOnce || seen[2] != refused {
		t.Fatalf("outcomes %v: want allow, allow, refused..., delayed", seen)
	}
	for _, o := range seen[2 : len(seen)-1] {
		if o != refused {
			t.Fatalf("outcomes %v: only refusals between the burst and the delayed call", seen)
		}
	}
	if delay > 300*time.Millisecond+500*time.Millisecond {
		t.Fatalf("held back %s, far beyond the 300 ms bound", delay)
	}
	t.Logf("burst of %d calls: %v; the delayed call took %s", len(seen), seen, delay.Round(time.Millisecond))

	// History: allow, allow, throttle refusals (no result), then a
	// throttle call held back, with its result.
	evs, _ := l.timeline(t, sid)
	var calls []store.Event
	for _, e := range evs {
		if e.Kind == store.KindCall {
			calls = append(calls, e)
		}
	}
	if len(calls) != len(seen) {
		t.Fatalf("%d calls recorded, %d made", len(calls), len(seen))
	}
	for i, e := range calls {
		why := strings.Join(e.Reasons, "; ")
		switch seen[i] {
		case wentAtOnce:
			if e.Verdict != "allow" {
				t.Fatalf("call %d went at once, recorded %s (%s)", i, e.Verdict, why)
			}
		case refused:
			if e.Verdict != "throttle" || !strings.Contains(why, "retry after") {
				t.Fatalf("call %d refused, recorded %s (%s)", i, e.Verdict, why)
			}
		case heldBack:
			if e.Verdict != "throttle" || !strings.Contains(why, "held back") {
				t.Fatalf("call %d delayed, recorded %s (%s)", i, e.Verdict, why)
			}
		}
	}
	if last := evs[len(evs)-1]; last.Kind != store.KindResult || last.CallID != calls[len(calls)-1].CallID || !last.OK {
		t.Fatalf("the delayed call has no result: %+v", last)
	}
}

func TestThrottleAgentAcrossSessions(t *testing.T) {
	l := newLadder(t, func(o *supervisor.Options) {
		o.Escalation.AgentRate = supervisor.Rate{PerMinute: 6, Burst: 3}
		o.Escalation.MaxDelay = 100 * time.Millisecond
	})
	a := connect(t, l.URL, opsToken)
	b := connect(t, l.URL, opsToken)
	other := connect(t, l.URL, "other-token-0123456789abcdef")
	// The agent's 3 tokens are shared by its two sessions.
	var got []string
	for i, c := range []*client.Client{a, b, a, b, a} {
		o, _ := echoOutcome(t, l, c, i)
		got = append(got, string(o))
	}
	if strings.Join(got, " ") != "allow allow allow refused refused" {
		t.Fatalf("outcomes across two sessions of one agent: %v, want 3 allowed then refused", got)
	}
	// Another agent has its own bucket.
	for i := range 3 {
		if o, _ := echoOutcome(t, l, other, i); o != wentAtOnce {
			t.Fatalf("another agent's call %d: %s", i, o)
		}
	}
}
