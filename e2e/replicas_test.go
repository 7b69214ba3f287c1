package e2e

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"

	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/store/postgres"
)

// replicaSet is several `warden serve` replicas on one PostgreSQL
// database, with HAProxy in front of them.
type replicaSet struct {
	procs []*wardenProcess
	url   string       // the MCP endpoint through HAProxy
	pg    string       // the database's URL
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
	// configFor, when set, writes replica i's whole configuration in
	// dir (its own folder), in place of the desk's with extra.
	configFor func(i int, dir string) string
}

// startReplicasWith is startReplicas with opts.
func startReplicasWith(t *testing.T, n int, transport, workflow string, opts replicaOpts, via ...func(i int, pg string) string) *replicaSet {
	t.Helper()
	pg := testkit.Postgres(t)
	bin := buildWarden(t)
	set := &replicaSet{pg: pg}
	var backends []string
	var path string
	for i := 0; i < n; i++ {
		dir := t.TempDir()
		cfg := filepath.Join(dir, "warden.yaml")
		file := cfg
		if opts.linked {
			file = filepath.Join(t.TempDir(), "real.yaml")
			if err := os.Symlink(file, cfg); err != nil {
				t.Fatal(err)
			}
		}
		var yaml string
		if opts.configFor != nil {
			yaml = opts.configFor(i, dir)
		} else {
			if err := os.WriteFile(filepath.Join(dir, "desk.yaml"), []byte(workflow), 0o600); err != nil {
				t.Fatal(err)
			}
			yaml = pgDeskYAML(filepath.Join(dir, "data"), transport, fmt.Sprintf(", replica: r%d", i)) + opts.extra
		}
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

// lease returns the replica that holds the session's lease, and its
// epoch: how many times the session was taken (1: never taken over).
func (set *replicaSet) lease(t *testing.T, sid string) (owner string, epoch int64) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, set.pg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, "SELECT owner, epoch FROM leases WHERE session = $1", sid).Scan(&owner, &epoch); err != nil {
		t.Fatalf("the lease of %s: %v", sid, err)
	}
	return owner, epoch
}

// replica returns the process of the replica named name (r0, r1, ...).
func (set *replicaSet) replica(t *testing.T, name string) *wardenProcess {
	t.Helper()
	var i int
	if _, err := fmt.Sscanf(name, "r%d", &i); err != nil || i < 0 || i >= len(set.procs) {
		t.Fatalf("no replica %q", name)
	}
	return set.procs[i]
}

// TestReplicasServeOneSessionBehindHAProxy: an mcp-go session through
// HAProxy, whose requests land on the three replicas in turn. Each call
// is answered by the replica that holds the session's lease: the others
// forward to it, so the session is never taken over (its lease keeps
// epoch 1, nothing is resumed or interrupted); the chain holds every
// call with its result, in order, and verifies.
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
	var echoes, results int
	for _, e := range evs {
		switch {
		case e.Kind == store.KindCall && e.Tool == "echo" && e.Verdict == "allow":
			echoes++
		case e.Kind == store.KindResult && e.Tool == "echo":
			results++
		}
	}
	if echoes != calls || results != calls {
		t.Fatalf("the chain has %d echo calls and %d results, want %d of each", echoes, results, calls)
	}
	noTakeover(t, set, sid, evs)
	if rep, err := set.db.Verify(ctx); err != nil || len(rep.Broken) != 0 {
		t.Fatalf("Verify: %+v, %v", rep, err)
	}
}

// noTakeover fails t unless the session was served by one replica from
// start to end: its lease was never taken (epoch 1), and its chain has
// no resumption and no call closed as interrupted.
func noTakeover(t *testing.T, set *replicaSet, sid string, evs []store.Event) {
	t.Helper()
	if owner, epoch := set.lease(t, sid); epoch != 1 {
		t.Errorf("the session's lease is at epoch %d (held by %s): it was taken over %d times", epoch, owner, epoch-1)
	}
	for _, e := range evs {
		why := strings.Join(e.Reasons, " ")
		if strings.Contains(why, "resumed") || strings.Contains(why, "interrupted") {
			t.Errorf("event %d (%s %s): %s", e.Seq, e.Kind, e.Tool, why)
		}
	}
}

// dialBalanced connects an agent through the load balancer, with the
// standing GET stream, which lands on whichever replica HAProxy picks
// and runs alongside the calls: the replica that serves the session gets
// it forwarded, like every other request of the session.
func dialBalanced(t *testing.T, url string) *client.Client {
	t.Helper()
	c, err := testkit.Dial(url, pgAgentToken, "e2e-agent", []transport.StreamableHTTPCOption{transport.WithContinuousListening()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}
