package e2e

import (
	"regexp"
	"slices"
	"strconv"
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
//
// The tests do not depend on how fast the machine is. A bucket starts
// full, so the burst is certain. Refusals use a rate of one token every
// two minutes, so no token comes back while the test runs. The held-back
// call uses a MaxDelay far longer than the token interval, so a call that
// finds the bucket empty is always held, never refused; a slow machine
// only lets more calls find a token.

// throttleOutcome is how one call of a burst ended.
type throttleOutcome string

const (
	wentAtOnce throttleOutcome = "allow"
	heldBack   throttleOutcome = "delayed"
	refused    throttleOutcome = "refused"
)

// slowRate is one token every two minutes: none comes back during a test.
const slowRate = 0.5

// heldBackReason is how a held-back call's reason says how long it waited.
var heldBackReason = regexp.MustCompile(`held back (\S+) by the rate limit`)

// echoOutcome calls echo and classifies the outcome by what the agent got
// and what warden recorded of the call. For a held-back call it also
// returns the wait on record and how long the call took.
func echoOutcome(t *testing.T, l *ladder, c *client.Client, i int) (o throttleOutcome, wait, took time.Duration) {
	t.Helper()
	start := time.Now()
	res := callTool(t, c, "echo", map[string]any{"message": strconv.Itoa(i)})
	took = time.Since(start)
	if res.IsError {
		if !strings.Contains(resultText(res), "warden refused this call (throttle): rate limit exceeded; retry after") {
			t.Fatalf("call %d: unexpected refusal %q", i, resultText(res))
		}
		return refused, 0, took
	}
	evs, _ := l.timeline(t, c.GetSessionId())
	for j := len(evs) - 1; j >= 0; j-- {
		e := evs[j]
		if e.Kind != store.KindCall {
			continue
		}
		if m := heldBackReason.FindStringSubmatch(strings.Join(e.Reasons, ";")); e.Verdict == "throttle" && m != nil {
			wait, err := time.ParseDuration(m[1])
			if err != nil {
				t.Fatalf("call %d: held back for %q: %v", i, m[1], err)
			}
			return heldBack, wait, took
		}
		if e.Verdict != "allow" {
			t.Fatalf("call %d went ahead recorded as %s %v", i, e.Verdict, e.Reasons)
		}
		return wentAtOnce, 0, took
	}
	t.Fatalf("call %d not recorded", i)
	return "", 0, took
}

// TestThrottleSessionRefuses: the bucket's 2 go at once; then, with the
// next token two minutes away and MaxDelay 300 ms, calls are refused with
// when to retry, recorded as throttle refusals without a result.
func TestThrottleSessionRefuses(t *testing.T) {
	l := newLadder(t, func(o *supervisor.Options) {
		o.Escalation.SessionRate = supervisor.Rate{PerMinute: slowRate, Burst: 2}
		o.Escalation.MaxDelay = 300 * time.Millisecond
	})
	c := connect(t, l.URL, opsToken)
	want := []throttleOutcome{wentAtOnce, wentAtOnce, refused, refused}
	var seen []throttleOutcome
	for i := range want {
		o, _, _ := echoOutcome(t, l, c, i)
		seen = append(seen, o)
	}
	if !slices.Equal(seen, want) {
		t.Fatalf("outcomes %v, want %v", seen, want)
	}
	evs, _ := l.timeline(t, c.GetSessionId())
	var calls, results int
	for _, e := range evs {
		switch e.Kind {
		case store.KindCall:
			why := strings.Join(e.Reasons, "; ")
			if i := calls; seen[i] == refused && (e.Verdict != "throttle" || !strings.Contains(why, "retry after")) {
				t.Fatalf("call %d refused, recorded %s (%s)", i, e.Verdict, why)
			} else if seen[i] == wentAtOnce && e.Verdict != "allow" {
				t.Fatalf("call %d went at once, recorded %s (%s)", i, e.Verdict, why)
			}
			calls++
		case store.KindResult:
			results++
		}
	}
	if calls != len(want) || results != 2 {
		t.Fatalf("%d calls and %d results recorded; want %d calls, results only for the 2 that went", calls, results, len(want))
	}
}

// TestThrottleSessionHoldsBack: with a token every second and MaxDelay a
// minute, the call after the burst of 1 is held back until the next token
// instead of refused: its recorded wait is at most one token interval,
// the agent waited at least that long, and it has its result.
func TestThrottleSessionHoldsBack(t *testing.T) {
	const interval = time.Second
	l := newLadder(t, func(o *supervisor.Options) {
		o.Escalation.SessionRate = supervisor.Rate{PerMinute: float64(time.Minute / interval), Burst: 1}
		o.Escalation.MaxDelay = time.Minute
	})
	c := connect(t, l.URL, opsToken)
	if o, _, _ := echoOutcome(t, l, c, 0); o != wentAtOnce {
		t.Fatalf("the first call of a full bucket: %s", o)
	}
	// Each further call either finds a token (when a second has passed
	// since the last one took it, as on a very slow machine) or is held
	// back; none is refused. Ten calls that each take a second are not a
	// test machine.
	var seen []throttleOutcome
	for i := 1; i <= 10; i++ {
		o, wait, took := echoOutcome(t, l, c, i)
		seen = append(seen, o)
		if o == refused {
			t.Fatalf("call %d refused although MaxDelay is a minute: %v", i, seen)
		}
		if o != heldBack {
			continue
		}
		if wait <= 0 || wait > interval {
			t.Fatalf("call %d held back %s; a token comes every %s", i, wait, interval)
		}
		if took < wait-time.Millisecond {
			t.Fatalf("call %d held back %s on record, but answered after %s", i, wait, took)
		}
		evs, _ := l.timeline(t, c.GetSessionId())
		last := evs[len(evs)-1]
		if last.Kind != store.KindResult || !last.OK || evs[len(evs)-2].Kind != store.KindCall || last.CallID != evs[len(evs)-2].CallID {
			t.Fatalf("the held-back call has no result: %+v", last)
		}
		t.Logf("outcomes after the burst: %v; held back %s, answered after %s", seen, wait, took.Round(time.Millisecond))
		return
	}
	t.Fatalf("no call held back in 10 after the burst: %v", seen)
}

func TestThrottleAgentAcrossSessions(t *testing.T) {
	l := newLadder(t, func(o *supervisor.Options) {
		o.Escalation.AgentRate = supervisor.Rate{PerMinute: slowRate, Burst: 3}
		o.Escalation.MaxDelay = 100 * time.Millisecond
	})
	a := connect(t, l.URL, opsToken)
	b := connect(t, l.URL, opsToken)
	other := connect(t, l.URL, "other-token-0123456789abcdef")
	// The agent's 3 tokens are shared by its two sessions.
	var got []string
	for i, c := range []*client.Client{a, b, a, b, a} {
		o, _, _ := echoOutcome(t, l, c, i)
		got = append(got, string(o))
	}
	if strings.Join(got, " ") != "allow allow allow refused refused" {
		t.Fatalf("outcomes across two sessions of one agent: %v, want 3 allowed then refused", got)
	}
	// Another agent has its own bucket.
	for i := range 3 {
		if o, _, _ := echoOutcome(t, l, other, i); o != wentAtOnce {
			t.Fatalf("another agent's call %d: %s", i, o)
		}
	}
}
