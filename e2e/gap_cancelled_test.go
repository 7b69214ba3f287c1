package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/warden-dev/warden/store"
)

// TestAgentCancelReachesUpstream: an agent that sends
// notifications/cancelled for its own call in flight (as a client over
// stdio does, or any client that follows the spec over HTTP) gets the
// call cancelled at the upstream, whose handler sees its context end;
// the session's history records the call as allowed and its result as
// not completed, cancelled.
func TestAgentCancelReachesUpstream(t *testing.T) {
	l := newLadder(t)
	sid := rawSession(t, nil, l.URL, opsToken, "agent/1")
	type answer struct {
		st   int
		body string
		err  error
	}
	done := make(chan answer, 1)
	go func() {
		st, body, _, err := ladderPost(nil, l.URL, opsToken, sid, toolCallBody(5, "block", `{}`), map[string]string{"User-Agent": "agent/1"})
		done <- answer{st, body, err}
	}()
	select {
	case <-l.Up.started:
	case <-time.After(10 * time.Second):
		t.Fatal("block never reached the upstream")
	}

	cancel := `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":5,"reason":"the user pressed stop"}}`
	if st, body, _, err := ladderPost(nil, l.URL, opsToken, sid, cancel, map[string]string{"User-Agent": "agent/1"}); err != nil || st != http.StatusAccepted {
		t.Fatalf("notifications/cancelled: %d %s %v, want 202", st, body, err)
	}
	select {
	case <-l.Up.cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("the upstream's handler never saw the agent's cancellation")
	}
	select {
	case a := <-done:
		if a.err == nil && strings.Contains(a.body, "never cancelled") {
			t.Fatalf("the cancelled call answered as if it ran to the end: %d %s", a.st, a.body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the cancelled call's request never ended")
	}

	var call, result *store.Event
	waitFor(t, 10*time.Second, "the cancelled call's result on the chain", func() bool {
		evs, _ := l.timeline(t, sid)
		call, result = callOf(evs, "block")
		return result != nil
	})
	if call == nil || call.Verdict != "allow" {
		t.Fatalf("call event = %+v, want block allowed", call)
	}
	if result.OK || !strings.Contains(result.Error, "cancelled by the agent") {
		t.Fatalf("result event = %+v, want it not ok and saying the call was cancelled", result)
	}
}
