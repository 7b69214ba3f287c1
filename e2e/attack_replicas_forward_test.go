package e2e

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pingBody is the JSON-RPC ping that ping sends.
const pingBody = `{"jsonrpc":"2.0","id":7,"method":"ping"}`

// forwardedBy returns a Warden-Forwarded value for a request of sid by
// method with body, from an agent at remote without a TLS fingerprint, signed with the cluster's secret as replica from
// signs it: what a party on the network between the replicas captures,
// and may replay for a minute.
func forwardedBy(secret []byte, from, remote, method, sid, body string) string {
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	nonce := base64.RawURLEncoding.EncodeToString([]byte(ts + sid + method)) // any value; what warden signs is random
	digest := sha256.Sum256([]byte(body))
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("warden-forwarded/2"))
	for _, p := range []string{from, ts, nonce, remote, "-", method, sid, base64.RawURLEncoding.EncodeToString(digest[:])} {
		m.Write([]byte{0})
		m.Write([]byte(p))
	}
	return strings.Join([]string{from, ts, nonce, remote, "-", base64.RawURLEncoding.EncodeToString(m.Sum(nil))}, " ")
}

// post sends body, a JSON-RPC message of session sid, to the MCP endpoint
// at target, with token (none if "") and a forwarding header (none if
// ""), and returns the HTTP status.
func post(t *testing.T, target, sid, token, forward, body string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, target, bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Session-Id", sid)
	req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if forward != "" {
		req.Header.Set("Warden-Forwarded", forward)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	return res.StatusCode
}

// sessionOnR0 starts three replicas of the desk and opens a session on
// r0, which serves it.
func sessionOnR0(t *testing.T) (*replicaSet, string) {
	t.Helper()
	desk := buildCommand(t, "./e2e/fixtures/deskserver")
	set := startReplicas(t, 3, fmt.Sprintf("stdio: {command: %q}", desk), refundsHeld)
	c := connect(t, set.procs[0].url, pgAgentToken)
	sid := c.GetSessionId()
	if owner, _ := set.lease(t, sid); owner != "r0" {
		t.Fatalf("the session is held by %s, want r0", owner)
	}
	return set, sid
}

// TestAttackReplayedForwardDoesNotMoveALiveSession: r0 serves the
// session and lives. A forwarded request of it, validly signed (replayed
// by a party on the path between the replicas, with the agent's token it
// also saw), is sent to r1, which does not serve the session. r1 must not
// take the session from its live owner (which would cut r0's calls in
// flight off from the history and resume the session on r1): it refuses
// the request as one that lost its way (503, try again), and the lease
// stays r0's at epoch 1. Before, r1 took the lease (epoch 2) and served it.
func TestAttackReplayedForwardDoesNotMoveALiveSession(t *testing.T) {
	set, sid := sessionOnR0(t)
	secret := clusterSecret(t, set.pg)
	header := forwardedBy(secret, set.procs[2].url, "127.0.0.1:1", http.MethodPost, sid, pingBody)
	if got := ping(t, set.procs[1].url, sid, pgAgentToken, header); got != http.StatusServiceUnavailable {
		t.Errorf("a forwarded request at a replica that does not serve its live session: status %d, want %d", got, http.StatusServiceUnavailable)
	}
	if owner, epoch := set.lease(t, sid); owner != "r0" || epoch != 1 {
		t.Errorf("the lease after the replayed forward: %s at epoch %d, want r0 at 1 (not taken from its live owner)", owner, epoch)
	}

	// The signature covers the body: a captured header does not vouch for
	// another request of the session within its minute (whose agent
	// address the owner would take from it). The owner serves that
	// request as the agent's own, and logs the header it ignored; the
	// header with the body it was signed for verifies.
	const notVerified = "does not verify: header ignored"
	other := `{"jsonrpc":"2.0","id":8,"method":"ping"}`
	for _, tc := range []struct {
		name, body string
		logged     int
	}{
		{"the body it was signed for", pingBody, 0},
		{"another body", other, 1},
	} {
		before := strings.Count(set.procs[0].stderr.String(), notVerified)
		if got := post(t, set.procs[0].url, sid, pgAgentToken, header, tc.body); got != http.StatusOK {
			t.Errorf("%s: status %d, want 200", tc.name, got)
		}
		// The log line may land just after the answer.
		logged := func() int { return strings.Count(set.procs[0].stderr.String(), notVerified) - before }
		if tc.logged > 0 {
			waitFor(t, 10*time.Second, tc.name+": the owner logging the header it ignored", func() bool { return logged() >= tc.logged })
		}
		if n := logged(); n != tc.logged {
			t.Errorf("%s: the owner logged %d forwarding headers that did not verify, want %d", tc.name, n, tc.logged)
		}
	}

	// The session goes on where it was, through any replica.
	for i, p := range set.procs {
		if got := ping(t, p.url, sid, pgAgentToken, ""); got != http.StatusOK {
			t.Errorf("a ping of the session through r%d: status %d, want 200", i, got)
		}
	}
	if owner, epoch := set.lease(t, sid); owner != "r0" || epoch != 1 {
		t.Errorf("the lease at the end: %s at epoch %d, want r0 at 1", owner, epoch)
	}
}
