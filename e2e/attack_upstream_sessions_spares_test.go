package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/warden-dev/warden/tools"
)

// Attack on spare upstream sessions (issue 14): a spare is opened ahead of
// need and handed to the next agent session. An upstream session that
// served an agent session, ended or not, must never be handed to another
// as a spare: its state (here a count, a process) would go with it.

// TestAttackUpstreamSessionsSparesAreNeverUsed: sessions of A and B take
// turns, each incrementing twice, with every other one closing before the
// next opens; each new agent session's first count is 1 and it is served
// by an upstream session (and over stdio a process) no earlier session
// had.
func TestAttackUpstreamSessionsSparesAreNeverUsed(t *testing.T) {
	for _, transport := range []string{"http", "stdio"} {
		t.Run(transport, func(t *testing.T) {
			up := newCounterUpstream(t, transport, tools.PerSession)
			up.spec.Spare = 1
			w := startWarden(t, []tools.Spec{up.spec}, sessionAgents)
			seen := map[string]string{} // upstream session or pid → the agent session it served
			for i := range 6 {
				// Each session takes a spare: one is ready before it opens.
				waitFor(t, 10*time.Second, "a spare upstream session", func() bool { return w.Hub.Status()[0].Spares == 1 })
				tok := agentTokenA
				if i%2 == 1 {
					tok = agentTokenB
				}
				c := connect(t, w.URL, tok)
				id := whoami(t, c)
				key := id.Session
				if transport == "stdio" {
					key = fmt.Sprint(id.PID)
				}
				if was, ok := seen[key]; ok {
					t.Fatalf("session %d is served by %s, which served %s", i, key, was)
				}
				seen[key] = fmt.Sprint("session ", i)
				for want := 1; want <= 2; want++ {
					if got := resultText(callTool(t, c, "increment", nil)); got != fmt.Sprint(want) {
						t.Fatalf("session %d's increment %d = %q: it shares an earlier session's count", i, want, got)
					}
				}
				if i%2 == 0 {
					if err := c.Close(); err != nil {
						t.Fatal(err)
					}
				}
			}
		})
	}
}
