package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/mark3labs/mcp-go/client/transport"

	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/store"
)

// spread sends an agent's requests to replicas as the test chooses: its
// standing GET stream and its DELETE to one, its POSTs to the others in
// turn, the initialize to the first of them. It counts the GET streams
// answered 200.
type spread struct {
	stream string   // host:port the GET stream goes to
	posts  []string // host:port the other requests go to, in turn
	next   atomic.Int64
	opened atomic.Int64 // GET streams answered 200
}

func (s *spread) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if r.Method == http.MethodGet || r.Method == http.MethodDelete {
		r.URL.Host = s.stream
	} else {
		r.URL.Host = s.posts[int(s.next.Add(1)-1)%len(s.posts)]
	}
	r.Host = r.URL.Host
	res, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && r.Method == http.MethodGet && res.StatusCode == http.StatusOK {
		s.opened.Add(1)
	}
	return res, err
}

// TestReplicasStreamOnOneCallsOnOthers: an mcp-go agent keeps its
// standing GET stream on replica r1 while its calls, several at once,
// land on r0 (which opened the session) and r2 in turn. The requests
// that land elsewhere are forwarded to r0, so the session is never taken
// over: its lease stays at epoch 1 and its chain has no resumption and
// no call closed as interrupted. On main each request took the lease and
// the stream's reconnections took it back. The agent's DELETE, which
// mcp-go sends without its token (trap 15), lands on r1 too: r0 judges
// it and ends the session.
func TestReplicasStreamOnOneCallsOnOthers(t *testing.T) {
	desk := buildCommand(t, "./e2e/fixtures/deskserver")
	set := startReplicas(t, 3, fmt.Sprintf("stdio: {command: %q}", desk), refundsHeld)
	hosts := make([]string, len(set.procs))
	for i, p := range set.procs {
		u, err := url.Parse(p.url)
		if err != nil {
			t.Fatal(err)
		}
		hosts[i] = u.Host
	}
	rt := &spread{stream: hosts[1], posts: []string{hosts[0], hosts[2]}}
	c, err := testkit.Dial(set.procs[0].url, pgAgentToken, "e2e-agent", []transport.StreamableHTTPCOption{
		transport.WithContinuousListening(), transport.WithHTTPBasicClient(&http.Client{Transport: rt}),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	sid := c.GetSessionId()
	waitFor(t, 20*time.Second, "the GET stream open on r1", func() bool { return rt.opened.Load() > 0 })

	const workers, each = 4, 8
	var wg sync.WaitGroup
	failed := make(chan string, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				msg := fmt.Sprintf("call %d.%d", w, i)
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				res, err := c.CallTool(ctx, echoRequest(msg))
				cancel()
				if err != nil || res.IsError || resultText(res) != msg {
					failed <- fmt.Sprintf("%s: %v %v", msg, err, res)
				}
			}
		})
	}
	wg.Wait()
	close(failed)
	for f := range failed {
		t.Errorf("call failed: %s", f)
	}
	if owner, _ := set.lease(t, sid); owner != "r0" {
		t.Errorf("the session's lease is held by %s, want r0, which opened it", owner)
	}
	evs, err := set.db.Events(context.Background(), sid)
	if err != nil {
		t.Fatal(err)
	}
	noTakeover(t, set, sid, evs)
	if n := rt.opened.Load(); n < 1 {
		t.Errorf("the GET stream was never open")
	}
	t.Logf("%d calls over r0 and r2 with the stream on r1; GET streams opened: %d", workers*each, rt.opened.Load())

	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the session ended by the DELETE sent to r1", func() bool {
		rec, err := set.db.Session(context.Background(), sid)
		return err == nil && rec.State == store.StateEnded
	})
}

// TestReplicaForwardingKeepsAuth: forwarding never stands in for the
// agent's token, and an agent cannot pass a request off as forwarded.
// r0 serves the session; a request with a wrong token sent to r2 is
// refused, as is one sent to r0 with a validly signed forwarding header
// (the owner still checks the token). A forged header is ignored: with
// the right token the request is served as the agent's own, and the
// owner logs that the header did not verify.
func TestReplicaForwardingKeepsAuth(t *testing.T) {
	set, sid := sessionOnR0(t)
	secret := clusterSecret(t, set.pg)
	signed := func(method string) string {
		return forwardedBy(secret, "http://r2", "127.0.0.1:1", method, sid, pingBody)
	}
	forged := fmt.Sprintf("http://r2 %d nonce 127.0.0.1:1 - %s", time.Now().Unix(), base64.RawURLEncoding.EncodeToString(make([]byte, 32)))

	tests := []struct {
		name    string
		to      *wardenProcess
		token   string
		forward string
		want    int
	}{
		{"wrong token through another replica", set.procs[2], "wrong-token", "", http.StatusUnauthorized},
		{"no token through another replica", set.procs[2], "", "", http.StatusUnauthorized},
		{"wrong token, validly signed as forwarded, to the owner", set.procs[0], "wrong-token", signed(http.MethodPost), http.StatusUnauthorized},
		{"wrong token, forged forwarding header, through another replica", set.procs[1], "wrong-token", forged, http.StatusUnauthorized},
		{"right token through another replica", set.procs[2], pgAgentToken, "", http.StatusOK},
		{"right token, forged forwarding header, to the owner", set.procs[0], pgAgentToken, forged, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ping(t, tt.to.url, sid, tt.token, tt.forward); got != tt.want {
				t.Fatalf("status %d, want %d", got, tt.want)
			}
		})
	}
	// Each replica that got a forged header logs it once; r0 accepted the
	// validly signed one (and r2's real forwards).
	for i, want := range []int{1, 1, 0} {
		logged := func() int { return strings.Count(set.procs[i].stderr.String(), "does not verify: header ignored") }
		if want > 0 { // the log line may land just after the answer
			waitFor(t, 10*time.Second, fmt.Sprintf("r%d logging the forged header", i), func() bool { return logged() >= want })
		}
		if n := logged(); n != want {
			t.Errorf("r%d logged %d forwarding headers that did not verify, want %d", i, n, want)
		}
	}
	if owner, epoch := set.lease(t, sid); owner != "r0" || epoch != 1 {
		t.Errorf("the lease after the requests: %s at epoch %d, want r0 at 1", owner, epoch)
	}
}

// ping sends a JSON-RPC ping of session sid to the MCP endpoint at
// target, with token (none if "") and a forwarding header (none if ""),
// and returns the HTTP status.
func ping(t *testing.T, target, sid, token, forward string) int {
	t.Helper()
	return post(t, target, sid, token, forward, pingBody)
}

// clusterSecret reads the secret the replicas sign forwarded requests
// with from the database.
func clusterSecret(t *testing.T, pg string) []byte {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var secret []byte
	if err := conn.QueryRow(ctx, "SELECT secret FROM cluster_secret WHERE id = 1").Scan(&secret); err != nil {
		t.Fatal(err)
	}
	return secret
}

// TestReplicasTakeOverADeadOwnerOnce: the replica that serves a session
// is killed with SIGKILL, and the session's next requests land at once on
// both survivors, several on each. Each survivor finds the owner dead;
// one takes the session over, the other forwards to it: the lease moves
// once (epoch 2), the chain records one resumption and no kill, and every
// call is answered. Taking the lease whatever its epoch, as replicas did
// before, moved it once per survivor, and a resumption could read the
// other's half-written state and kill the session.
func TestReplicasTakeOverADeadOwnerOnce(t *testing.T) {
	desk := buildCommand(t, "./e2e/fixtures/deskserver")
	set := startReplicas(t, 3, fmt.Sprintf("stdio: {command: %q}", desk), refundsHeld)
	c := connect(t, set.procs[0].url, pgAgentToken)
	sid := c.GetSessionId()
	if res := callTool(t, c, "echo", map[string]any{"message": "before"}); res.IsError {
		t.Fatalf("echo on r0: %s", resultText(res))
	}
	set.procs[0].kill(t)

	survivors := []*wardenProcess{set.procs[1], set.procs[2]}
	const each = 4
	var wg sync.WaitGroup
	failed := make(chan string, len(survivors)*each)
	start := make(chan struct{})
	for i, p := range survivors {
		agent := rejoin(t, p.url, pgAgentToken, sid)
		for j := range each {
			wg.Go(func() {
				<-start
				msg := fmt.Sprintf("r%d call %d", i+1, j)
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				res, err := agent.CallTool(ctx, echoRequest(msg))
				if err != nil || res.IsError || resultText(res) != msg {
					failed <- fmt.Sprintf("%s: %v %v", msg, err, res)
				}
			})
		}
	}
	close(start)
	wg.Wait()
	close(failed)
	for f := range failed {
		t.Errorf("call failed: %s", f)
	}
	owner, epoch := set.lease(t, sid)
	if owner == "r0" || epoch != 2 {
		t.Errorf("the lease after r0's death: %s at epoch %d, want a survivor at epoch 2", owner, epoch)
	}
	evs, err := set.db.Events(context.Background(), sid)
	if err != nil {
		t.Fatal(err)
	}
	resumed := 0
	for _, e := range evs {
		if e.Kind == "kill" {
			t.Errorf("the session was killed: %v", e.Reasons)
		}
		if e.Kind == store.KindSignal && strings.Contains(strings.Join(e.Reasons, " "), "session resumed") {
			resumed++
		}
	}
	if resumed != 1 {
		t.Errorf("the chain records %d resumptions, want 1", resumed)
	}
	if t.Failed() { // the chain and the replicas' word on the session, to see what happened
		for _, e := range evs {
			t.Logf("event %d: %s %s %s %v", e.Seq, e.Kind, e.Tool, e.Error, e.Reasons)
		}
		for i, p := range set.procs {
			for _, l := range strings.Split(p.stderr.String(), "\n") {
				if strings.Contains(l, "session") || strings.Contains(l, "replica") {
					t.Logf("r%d: %s", i, l)
				}
			}
		}
	}
}
