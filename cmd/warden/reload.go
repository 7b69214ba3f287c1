package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"slices"

	"github.com/fsnotify/fsnotify"

	"github.com/warden-dev/warden/admin"
	"github.com/warden-dev/warden/config"
	"github.com/warden-dev/warden/supervisor"
)

// needsRestart names the settings that differ between the configuration
// warden runs with and a reloaded one but that only a restart applies:
// what is listened on and stored where, and how requests are bounded.
// The rest of the reload applies; these keep their running values.
func needsRestart(running, next *config.Config) []string {
	var out []string
	differ := func(name string, a, b any) {
		if !reflect.DeepEqual(a, b) {
			out = append(out, name)
		}
	}
	differ("listen", running.Listen, next.Listen)
	differ("allowed_hosts", running.AllowedHosts, next.AllowedHosts)
	differ("allowed_origins", running.AllowedOrigins, next.AllowedOrigins)
	differ("max_body_bytes", running.MaxBodyBytes, next.MaxBodyBytes)
	differ("session_idle_ttl", running.SessionIdleTTL, next.SessionIdleTTL)
	differ("data_dir", running.DataDir, next.DataDir)
	differ("log", running.Log, next.Log)
	differ("admin (listen)", adminListen(running), adminListen(next))
	differ("approvals", running.Approvals, next.Approvals)
	differ("revalidation", running.Revalidation, next.Revalidation)
	differ("network", running.Network, next.Network)
	differ("retention", running.Retention, next.Retention)
	differ("anchor", running.Anchor, next.Anchor)
	differ("tracing", running.Tracing, next.Tracing)
	differ("store", running.Store, next.Store)
	differ("export", running.Export, next.Export)
	differ("agents' retention", agentRetention(running), agentRetention(next))
	differ("upstreams (validate_args)", keysOnly(running), keysOnly(next))
	slices.Sort(out)
	return out
}

// adminListen is where the admin API listens, "" without one. Its token
// is reloaded; where it listens is not.
func adminListen(cfg *config.Config) string {
	if cfg.Admin == nil {
		return ""
	}
	return cfg.Admin.Listen
}

// agentRetention is each agent's own retention limits, by name: the
// retention job started with them.
func agentRetention(cfg *config.Config) map[string]*config.AgentRetention {
	out := map[string]*config.AgentRetention{}
	for _, a := range cfg.Agents {
		if a.Retention != nil {
			out[a.Name] = a.Retention
		}
	}
	return out
}

// keepJudges gives each agent of next whose judge section is unchanged
// since prevCfg the judge it runs with (from prev), so that a reload
// neither refills a judge's per-minute budget nor empties its cache.
func keepJudges(prevCfg *config.Config, prev []supervisor.Agent, next *config.Config, agents []supervisor.Agent) {
	was := map[string]*config.Judge{}
	for _, a := range prevCfg.Agents {
		was[a.Name] = a.Judge
	}
	running := map[string]supervisor.Agent{}
	for _, a := range prev {
		running[a.Name] = a
	}
	for i, a := range next.Agents {
		old, ok := running[a.Name]
		if ok && a.Judge != nil && old.Judge != nil && reflect.DeepEqual(was[a.Name], a.Judge) {
			agents[i].Judge = old.Judge
		}
	}
}

// policyDigest is the SHA-256 of what a reload applies, as cfg defines
// it: the agents (tokens by hash, workflow files by content, so that
// copies in other folders digest the same), the rules file's content,
// throttle, limits and upstreams. Two replicas with equal digests run the
// same policy; restart-only settings (listen, store, ...) are left out.
func policyDigest(cfg *config.Config) (string, error) {
	type agent struct {
		config.Agent
		Workflow  string // the file's content digest
		TokenFile string `json:"-"` // the token is in TokenSHA256
	}
	type policy struct {
		Agents    []agent
		Rules     string // the file's content digest
		Throttle  *config.Throttle
		Limits    *config.Limits
		Upstreams []*config.Upstream
	}
	p := policy{Throttle: cfg.Throttle, Limits: cfg.Limits, Upstreams: cfg.Upstreams}
	var err error
	if p.Rules, err = fileDigest(cfg.Rules); err != nil {
		return "", err
	}
	for _, a := range cfg.Agents {
		wf, err := fileDigest(a.Workflow)
		if err != nil {
			return "", err
		}
		p.Agents = append(p.Agents, agent{Agent: *a, Workflow: wf})
	}
	b, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("digest the policy: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// fileDigest is the hex SHA-256 of a file's content, "" for no file.
func fileDigest(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("digest the policy: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// policyBoard is where replicas on one PostgreSQL database record the
// policy each runs and announce the one they load (store/postgres).
type policyBoard interface {
	AnnouncePolicy(ctx context.Context, digest string) error
	RecordPolicy(ctx context.Context, digest, problem string) error
}

// share makes the reloader one replica's: its run announces the policy
// it starts with, and follows the announcements of every replica (itself
// included) that tell hands it: each makes it reload its own
// configuration.
func (r *reloader) share(board policyBoard, gauge *admin.PolicyGauge) {
	r.board, r.gauge, r.announced = board, gauge, make(chan string, 1)
	var err error
	if r.digest, err = policyDigest(r.loaded); err != nil {
		r.log.Error("cannot digest the policy this replica runs", "err", err)
	}
}

// tell hands the latest announcement to the reload loop; an older one
// not yet taken is dropped (only the last counts).
func (r *reloader) tell(digest string) {
	for {
		select {
		case r.announced <- digest:
			return
		default:
		}
		select {
		case <-r.announced:
		default:
		}
	}
}

// announce tells every replica that this one loaded its policy, after a
// start or a reload of its own.
func (r *reloader) announce(ctx context.Context) {
	if r.board == nil || r.digest == "" {
		return
	}
	if err := r.board.AnnouncePolicy(ctx, r.digest); err != nil {
		r.log.Error("cannot announce the policy this replica loaded to the other replicas", "policy", r.digest, "err", err)
		return
	}
	r.problem = ""
	r.gauge.Set(false)
}

// record notes in the database the policy this replica runs, and why it
// is not the announced one (problem; "" when it is).
func (r *reloader) record(ctx context.Context, problem string) {
	if r.board == nil || r.digest == "" {
		return
	}
	if err := r.board.RecordPolicy(ctx, r.digest, problem); err != nil {
		r.log.Error("cannot record the policy this replica runs", "policy", r.digest, "err", err)
		return
	}
	r.problem = problem
	r.gauge.Set(problem != "")
}

// follow applies a policy another replica announced: this replica
// re-reads its own configuration. One it cannot load leaves the last good
// policy running, as a refused reload does; one that loads but digests
// otherwise means the replicas' files differ. Either is logged as an
// error and recorded, so that `warden replicas` shows it.
func (r *reloader) follow(ctx context.Context, w *fsnotify.Watcher, announced string) {
	if announced == r.digest {
		// This replica's own announcement, or one it already runs: a
		// difference it recorded before is over.
		if r.problem != "" {
			r.record(ctx, "")
		}
		return
	}
	r.log.Info("another replica announced a policy: reloading the configuration", "announced", announced)
	if err := r.apply(ctx); err != nil {
		r.failed++
		r.log.Error("cannot load the policy another replica announced; this replica keeps its last good one",
			"announced", announced, "runs", r.digest, "failed_reloads", r.failed, "errors", err.Error())
		r.record(ctx, "cannot load the announced policy "+short(announced)+"; runs its last good one: "+err.Error())
		return
	}
	if w != nil {
		r.watch(w)
	}
	if r.digest != announced {
		r.log.Error("this replica's policy differs from the one another replica announced: their configuration files differ",
			"announced", announced, "runs", r.digest)
		r.record(ctx, "differs from the announced policy "+short(announced))
		return
	}
	r.record(ctx, "")
}
