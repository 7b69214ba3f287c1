package e2e

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/warden-dev/warden/store"
)

// TestAttackKillByAmbiguousPrefix: `warden kill PREFIX` against a real
// serve acts on no session when the prefix is shared (it names the
// candidates), and on exactly the one session a unique prefix names,
// echoing its whole id.
func TestAttackKillByAmbiguousPrefix(t *testing.T) {
	bin := buildWarden(t)
	cfg, admin := shareConfig(t)
	serve := startServe(t, bin, cfg)
	// Sessions until two ids share their first digit (17 suffice).
	var sessions []store.Session
	var shared string
	for len(sessions) < 17 && shared == "" {
		connect(t, serve.url, "desktop-http-token")
		adminJSON(t, http.MethodGet, admin+"/v1/sessions?agent=desktop", &sessions)
		seen := map[string]bool{}
		for _, s := range sessions {
			if seen[s.ID[:1]] {
				shared = s.ID[:1]
			}
			seen[s.ID[:1]] = true
		}
	}
	if shared == "" {
		t.Fatalf("17 sessions and no two ids share a first digit: %+v", sessions)
	}
	kill := func(prefix string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "kill", "-c", cfg, "--reason", "attack test", prefix)
		cmd.Env = append(os.Environ(), "WARDEN_ADMIN_TOKEN="+shareAdminToken)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	states := func() map[string]string {
		var now []store.Session
		adminJSON(t, http.MethodGet, admin+"/v1/sessions?agent=desktop", &now)
		out := map[string]string{}
		for _, s := range now {
			out[s.ID] = s.State
		}
		return out
	}

	out, err := kill(shared)
	if err == nil || !strings.Contains(out, "ambiguous") {
		t.Fatalf("kill %q (shared by several sessions): %v\n%s", shared, err, out)
	}
	for id, st := range states() {
		if st != store.StateActive {
			t.Fatalf("an ambiguous kill ended session %s (%s)", id, st)
		}
	}

	target := sessions[0].ID
	prefix := uniquePrefix(target, sessions)
	if out, err = kill(prefix); err != nil || !strings.Contains(out, target) {
		t.Fatalf("kill %q (unique prefix of %s): %v\n%s", prefix, target, err, out)
	}
	for id, st := range states() {
		if want := map[bool]string{true: store.StateKilled, false: store.StateActive}[id == target]; st != want {
			t.Errorf("session %s is %s after killing %s by its prefix %q, want %s", id, st, target, prefix, want)
		}
	}
}

// uniquePrefix is the shortest prefix of id that no other session's id
// starts with.
func uniquePrefix(id string, sessions []store.Session) string {
	for n := 1; n < len(id); n++ {
		unique := true
		for _, s := range sessions {
			if s.ID != id && strings.HasPrefix(s.ID, id[:n]) {
				unique = false
			}
		}
		if unique {
			return id[:n]
		}
	}
	return id
}
