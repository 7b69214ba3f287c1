package e2e

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/warden-dev/warden/internal/testkit"
)

// TestPartitionedReplicaRefusesCalls: replica r0 reaches PostgreSQL
// through a relay, which is then cut. A call that lands on r0 is refused
// (fail closed), and nothing reaches the upstream. r0 can no longer
// heartbeat: once its heartbeat expires, the replica that still reaches
// the database takes the session over and serves it (until then it
// forwards to r0, which refuses); the time from the cut is logged.
func TestPartitionedReplicaRefusesCalls(t *testing.T) {
	up := newLadderUpstream(t)
	var relay *testkit.Relay
	viaRelay := func(i int, pg string) string {
		if i != 0 {
			return pg
		}
		u, err := url.Parse(pg)
		if err != nil {
			t.Fatal(err)
		}
		relay = testkit.NewRelay(t, u.Host)
		u.Host = relay.Addr
		return u.String()
	}
	set := startReplicas(t, 2, fmt.Sprintf("http: {url: %q}", up.URL), strings.Replace(ladderWorkflow, "agent: ops", "agent: desk", 1), viaRelay)
	c := connect(t, set.procs[0].url, pgAgentToken)
	if res := callTool(t, c, "pay", map[string]any{"amount": 1, "to": "x"}); res.IsError || up.paid.Load() != 1 {
		t.Fatalf("pay on r0 before the partition: %s (paid %d)", resultText(res), up.paid.Load())
	}

	relay.Cut()
	cut := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := echoRequest("")
	req.Params.Name, req.Params.Arguments = "pay", map[string]any{"amount": 2, "to": "x"}
	if res, err := c.CallTool(ctx, req); err == nil && !res.IsError {
		t.Fatalf("a call on the partitioned replica was served: %s", resultText(res))
	}
	if n := up.paid.Load(); n != 1 {
		t.Fatalf("the upstream was called %d times; the partitioned replica acted unrecorded", n-1)
	}

	// The session goes on through r1, which still reaches the database.
	c1 := rejoin(t, set.procs[1].url, pgAgentToken, c.GetSessionId())
	req.Params.Arguments = map[string]any{"amount": 3, "to": "x"}
	refused := 0
	waitFor(t, 30*time.Second, "a call served through r1", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		res, err := c1.CallTool(ctx, req)
		if err == nil && !res.IsError {
			return true
		}
		refused++
		return false
	})
	if n := up.paid.Load(); n != 2 {
		t.Fatalf("the upstream was paid %d times, want 2: a refused call acted, or the served one did not", n)
	}
	t.Logf("the session went on through r1 %v after r0 was cut off (%d calls refused meanwhile)", time.Since(cut).Round(time.Millisecond), refused)
}
