package e2e

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/client"

	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/store/postgres"
)

// replicaSet is several `warden serve` replicas on one PostgreSQL
// database, with HAProxy in front of them.
type replicaSet struct {
	procs []*wardenProcess
	url   string       // the MCP endpoint through HAProxy
	db    *postgres.DB // the shared history, read by the test
	// cfgs are the replicas' config paths, for a test to rewrite (a
	// write through a link changes its target only).
	cfgs []string
}

// startReplicas starts n replicas (named r0, r1, ...) of warden serving
// one upstream (its transport, as pgDeskYAML takes it) under workflow,
// on one fresh database, behind HAProxy (round robin, no stickiness).
// via, if given, says how replica i reaches the database (its URL from
// the database's).
func startReplicas(t *testing.T, n int, transport, workflow string, via ...func(i int, pg string) string) *replicaSet {
	t.Helper()
	return startReplicasWith(t, n, transport, workflow, replicaOpts{}, via...)
}

// replicaOpts vary the replicas' configuration.
type replicaOpts struct {
	// extra is appended to each configuration (after the agent's fields:
	// more of them, or top-level sections).
	extra string
	// linked makes each replica's config path a symbolic link to a file
	// in another folder, whose changes the file watch does not see: only
	// SIGHUP, or another replica's announcement, reloads it.
	linked bool
}

// startReplicasWith is startReplicas with opts.
func startReplicasWith(t *testing.T, n int, transport, workflow string, opts replicaOpts, via ...func(i int, pg string) string) *replicaSet {
	t.Helper()
	pg := testkit.Postgres(t)
	bin := buildWarden(t)
	set := &replicaSet{}
	var backends []string
	var path string
	for i := 0; i < n; i++ {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "desk.yaml"), []byte(workflow), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := filepath.Join(dir, "warden.yaml")
		file := cfg
		if opts.linked {
			file = filepath.Join(t.TempDir(), "real.yaml")
			if err := os.Symlink(file, cfg); err != nil {
				t.Fatal(err)
			}
		}
		yaml := pgDeskYAML(filepath.Join(dir, "data"), transport, fmt.Sprintf(", replica: r%d", i)) + opts.extra
		if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		set.cfgs = append(set.cfgs, cfg)
		t.Setenv("WARDEN_PG_URL", pg)
		for _, f := range via {
			t.Setenv("WARDEN_PG_URL", f(i, pg)) // read by the replica when it starts
		}
		p := startServe(t, bin, cfg)
		u, err := url.Parse(p.url)
		if err != nil {
			t.Fatal(err)
		}
		backends, path = append(backends, u.Host), u.Path
		set.procs = append(set.procs, p)
	}
	set.url = "http://" + testkit.HAProxy(t, backends...) + path
	db, err := postgres.Open(context.Background(), pg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	set.db = db
	return set
}

// TestReplicasServeOneSessionBehindHAProxy: an mcp-go session through
// HAProxy, whose requests land on the three replicas in turn. Each call
// is answered; the replica a request lands on takes the session over and
// resumes it, and the one that lost it refuses nothing it should serve;
// the chain holds every call with its result, in order, and verifies.
func TestReplicasServeOneSessionBehindHAProxy(t *testing.T) {
	desk := buildCommand(t, "./e2e/fixtures/deskserver")
	set := startReplicas(t, 3, fmt.Sprintf("stdio: {command: %q}", desk), refundsHeld)
	c := dialBalanced(t, set.url)
	sid := c.GetSessionId()
	const calls = 9
	for i := 0; i < calls; i++ {
		msg := fmt.Sprintf("call %d", i)
		if res := callTool(t, c, "echo", map[string]any{"message": msg}); res.IsError || resultText(res) != msg {
			t.Fatalf("echo %d through HAProxy: %s", i, resultText(res))
		}
	}
	ctx := context.Background()
	evs, err := set.db.Events(ctx, sid)
	if err != nil {
		t.Fatal(err)
	}
	var echoes, results, takeovers int
	for _, e := range evs {
		switch {
		case e.Kind == store.KindCall && e.Tool == "echo" && e.Verdict == "allow":
			echoes++
		case e.Kind == store.KindResult && e.Tool == "echo":
			results++
		case e.Kind == store.KindSignal && strings.Contains(strings.Join(e.Reasons, " "), "resumed"):
			takeovers++
		}
	}
	if echoes != calls || results != calls {
		t.Fatalf("the chain has %d echo calls and %d results, want %d of each", echoes, results, calls)
	}
	// Round robin over three: most requests land on a replica that did
	// not serve the one before.
	if takeovers < calls/2 {
		t.Fatalf("the session was taken over %d times across %d calls: the requests did not spread over the replicas", takeovers, calls)
	}
	if rep, err := set.db.Verify(ctx); err != nil || len(rep.Broken) != 0 {
		t.Fatalf("Verify: %+v, %v", rep, err)
	}
}

// dialBalanced connects an agent through the load balancer, without the
// standing GET stream: its reconnections would run alongside the calls,
// and a session's requests that run at once on different replicas take
// its lease from each other (README: limits of replicas).
func dialBalanced(t *testing.T, url string) *client.Client {
	t.Helper()
	c, err := testkit.Dial(url, pgAgentToken, "e2e-agent", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}
