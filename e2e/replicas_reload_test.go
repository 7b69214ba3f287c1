package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/store/postgres"
)

// TestReplicasFollowAReload: three replicas, each on its own copy of the
// configuration (behind a link, so no file watch sees it change). The
// copies of r0 and r1 get a limit on session openings, r2's stays;
// SIGHUP goes to r0 only. r1 applies the new policy (the time from the
// signal to its record is logged), r2 re-reads its old copy and reports
// that it differs: in its log, in the database, in `warden replicas`
// (exit 1), in its metrics. Then r1 enforces the limit and r2 does not.
func TestReplicasFollowAReload(t *testing.T) {
	desk := buildCommand(t, "./e2e/fixtures/deskserver")
	set := startReplicasWith(t, 3, fmt.Sprintf("stdio: {command: %q}", desk), refundsHeld, replicaOpts{linked: true})
	ctx := t.Context()
	policies := func() postgres.Policies {
		t.Helper()
		p, err := set.db.Policies(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	var start string
	waitFor(t, 20*time.Second, "the three replicas' policy on record", func() bool {
		p := policies()
		for _, r := range p.Replicas {
			if r.Digest != p.Announced || r.Problem != "" {
				return false
			}
		}
		start = p.Announced
		return len(p.Replicas) == 3
	})

	for _, f := range set.cfgs[:2] {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, append(b, "limits: {initialize: {per_minute: 0.01, burst: 1}}\n"...), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	sent := time.Now()
	if err := set.procs[0].cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	var announced string
	waitFor(t, 20*time.Second, "r1 running the policy r0 announced", func() bool {
		p := policies()
		announced = p.Announced
		r1 := p.Replicas[1]
		return announced != start && p.AnnouncedBy == "r0" && r1.Digest == announced && r1.Problem == ""
	})
	t.Logf("r1 applied the reload of r0 %s after the SIGHUP", time.Since(sent).Round(time.Millisecond))
	waitFor(t, 20*time.Second, "r2 reporting that its policy differs", func() bool {
		r2 := policies().Replicas[2]
		return r2.Digest == start && r2.Problem == "differs from the announced policy "+announced[:12]
	})
	if log := set.procs[2].stderr.String(); !strings.Contains(log, "this replica's policy differs from the one another replica announced") {
		t.Fatalf("r2 logged no divergence:\n%s", log)
	}

	for i, want := range map[int]float64{1: 0, 2: 1} {
		_, fams := scrape(t, adminBase(t, set.procs[i]), pgAdminToken)
		if got := sample(fams, "warden_policy_diverged", nil); got != want {
			t.Fatalf("r%d: warden_policy_diverged %v, want %v", i, got, want)
		}
	}

	out, err := exec.Command(buildWarden(t), "replicas", "-c", set.cfgs[0]).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("warden replicas: %v, want exit 1\n%s", err, out)
	}
	t.Logf("warden replicas:\n%s", out)
	for _, want := range []string{"announced policy " + announced[:12] + " by r0", "r0  ", "r1  ", "runs the announced policy",
		"r2", start[:12], "DIVERGED: differs from the announced policy " + announced[:12]} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("warden replicas does not say %q:\n%s", want, out)
		}
	}

	// What each runs: r1 lets the agent open one session (the limit is
	// counted for all replicas), r2 any number.
	opens := func(i int) bool {
		c, err := testkit.Dial(set.procs[i].url, pgAgentToken, "e2e-agent", nil)
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	}
	if got := fmt.Sprint(opens(1), opens(1), opens(2), opens(2)); got != "true false true true" {
		t.Fatalf("openings on r1, r1, r2, r2: %s; want true false true true", got)
	}

	// A copy that does not load: r2 keeps its last good policy, says so,
	// and serves on with it.
	if err := os.WriteFile(set.cfgs[2], []byte("agents: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := set.procs[1].cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "r2 reporting that it cannot load the announced policy", func() bool {
		p := policies()
		r2 := p.Replicas[2]
		return p.AnnouncedBy == "r1" && r2.Digest == start && strings.HasPrefix(r2.Problem, "cannot load the announced policy "+announced[:12]+"; runs its last good one: ")
	})
	if !opens(2) {
		t.Fatal("r2 stopped serving after it could not load the announced policy")
	}
}
