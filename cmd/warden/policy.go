package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/charmbracelet/log"
	"github.com/fsnotify/fsnotify"

	"github.com/warden-dev/warden/admin"
	"github.com/warden-dev/warden/config"
	"github.com/warden-dev/warden/eval"
	"github.com/warden-dev/warden/supervisor"
	"github.com/warden-dev/warden/workflows"
)

// loadPolicies loads every agent's workflow and the global rules named by
// a configuration. Every problem is reported, each with file and line.
// With the names of the tools the upstreams offer, a step whose tool none
// offers is a warning.
func loadPolicies(cfg *config.Config, knownTools ...string) (map[string]*supervisor.Policy, []string, error) {
	var problems, warnings []string
	var global []eval.Rule
	if cfg.Rules != "" {
		data, err := os.ReadFile(cfg.Rules)
		if err == nil {
			global, err = eval.LoadRules(cfg.Rules, data)
		}
		if err != nil {
			problems = append(problems, err.Error())
		}
	}
	out := map[string]*supervisor.Policy{}
	for _, a := range cfg.Agents {
		p := &supervisor.Policy{Rules: global}
		if a.Workflow != "" {
			var opts []workflows.Option
			if len(knownTools) > 0 {
				opts = append(opts, workflows.WithKnownTools(knownTools))
			}
			wf, err := workflows.Load(a.Workflow, opts...)
			if err != nil {
				problems = append(problems, err.Error())
				continue
			}
			if wf.Agent != "" && wf.Agent != a.Name {
				problems = append(problems, fmt.Sprintf("%s: the workflow is for agent %q, but agent %q of %s names it", a.Workflow, wf.Agent, a.Name, cfg.File))
				continue
			}
			for _, w := range wf.Warnings() {
				warnings = append(warnings, "warning: "+w.Error())
			}
			p.Workflow = wf
		}
		out[a.Name] = p
	}
	if len(problems) > 0 {
		return nil, warnings, errors.New(strings.Join(problems, "\n"))
	}
	return out, warnings, nil
}

// policyFiles are the files whose change reloads the configuration.
func policyFiles(cfg *config.Config) []string {
	files := []string{cfg.File}
	if cfg.Rules != "" {
		files = append(files, cfg.Rules)
	}
	if cfg.Admin != nil && cfg.Admin.TokenFile != "" {
		files = append(files, cfg.Admin.TokenFile)
	}
	for _, a := range cfg.Agents {
		if a.Workflow != "" {
			files = append(files, a.Workflow)
		}
		if a.TokenFile != "" {
			files = append(files, a.TokenFile) // a rotated token reloads
		}
	}
	return files
}

// reloader hot-reloads the configuration on SIGHUP and when the config
// file or a file it names (rules, workflows) changes: agents, tokens,
// policies, rates and limits. A reload is parsed and validated whole
// first; an invalid one is refused, its errors logged with their place,
// and everything running stays as it was. Settings only a restart applies
// (listen addresses, the data directory, upstreams, ...) are logged as
// such and keep their running values while the rest applies.
type reloader struct {
	path    string
	sup     *supervisor.Supervisor
	ops     *admin.Operators // the named admin tokens, reloaded with the rest
	log     *log.Logger
	running *config.Config     // what warden started with: restart-only settings stay so
	loaded  *config.Config     // the last configuration applied
	failed  int                // reloads refused so far
	agents  []supervisor.Agent // the agents last applied, with their judges
	hup     chan os.Signal     // SIGHUPs, if caught before run; else run catches them

	// Among replicas (share): the digest of the policy this one runs, the
	// board it announces and records it on, and the announcements of all.
	digest    string
	problem   string // what it last recorded as wrong with it
	gauge     *admin.PolicyGauge
	board     policyBoard
	announced chan string
}

// newReloader reloads the configuration file of a running warden.
func newReloader(a *app, logger *log.Logger) *reloader {
	return &reloader{path: a.cfg.File, sup: a.sup, ops: a.ops, log: logger, running: a.cfg, loaded: a.cfg, agents: a.agents}
}

func (r *reloader) run(ctx context.Context) {
	r.announce(ctx) // among replicas: the policy this one starts with
	hup := r.hup
	if hup == nil {
		hup = make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
	}

	w, err := fsnotify.NewWatcher()
	if err != nil {
		r.log.Warn("file watching unavailable; reload with SIGHUP", "err", err)
	} else {
		defer w.Close()
		r.watch(w)
	}
	var events <-chan fsnotify.Event
	var errs <-chan error
	if w != nil {
		events, errs = w.Events, w.Errors
	}
	// Editors write a file in several steps: reload once things settle.
	settle := time.NewTimer(time.Hour)
	settle.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			r.log.Info("SIGHUP: reloading the configuration")
			r.reload(ctx, w)
		case ev := <-events:
			if r.watched(ev.Name) {
				settle.Reset(200 * time.Millisecond)
			}
		case err := <-errs:
			r.log.Warn("file watching", "err", err)
		case <-settle.C:
			r.log.Info("configuration files changed: reloading")
			r.reload(ctx, w)
		case digest := <-r.announced:
			r.follow(ctx, w, digest)
		}
	}
}

// watch watches the folders of the policy files (files are often replaced,
// not written in place, so watching the file itself would lose it).
func (r *reloader) watch(w *fsnotify.Watcher) {
	seen := map[string]bool{}
	for _, f := range policyFiles(r.loaded) {
		dir := filepath.Dir(f)
		if !seen[dir] {
			seen[dir] = true
			if err := w.Add(dir); err != nil {
				r.log.Warn("cannot watch", "dir", dir, "err", err)
			}
		}
	}
}

func (r *reloader) watched(name string) bool {
	for _, f := range policyFiles(r.loaded) {
		if filepath.Clean(name) == f {
			return true
		}
	}
	return false
}

func (r *reloader) reload(ctx context.Context, w *fsnotify.Watcher) {
	if err := r.apply(ctx); err != nil {
		r.failed++
		r.log.Error("reload refused; the running configuration stays", "failed_reloads", r.failed, "errors", err.Error())
		r.record(ctx, "its last reload was refused; runs its last good policy: "+err.Error())
		return
	}
	if w != nil {
		r.watch(w)
	}
	r.announce(ctx)
}

// apply loads and checks the whole configuration, then applies it at once.
func (r *reloader) apply(ctx context.Context) error {
	cfg, err := config.Load(r.path)
	if err != nil {
		return fmt.Errorf("the configuration is invalid:\n%w", err)
	}
	ps, warnings, err := loadPolicies(cfg)
	if err != nil {
		return fmt.Errorf("a policy is invalid:\n%w", err)
	}
	agents, err := agentsOf(cfg, os.Getenv)
	if err != nil {
		return err
	}
	keepJudges(r.loaded, r.agents, cfg, agents)
	keepLocalTokens(r.agents, agents)
	ops := operators(cfg.Admin)
	if _, err := admin.NewOperators(ops); err != nil {
		return err
	}
	for _, wn := range warnings {
		r.log.Warn(wn)
	}
	next := supervisor.Reloaded{Agents: agents, Policies: ps, Escalation: throttleOf(cfg), Limits: limitsOf(cfg), Upstreams: upstreamSpecs(cfg)}
	if cfg.Admin != nil {
		next.AdminTokenSHA256 = cfg.Admin.TokenSHA256
	}
	// As at start: the added upstreams' first attempt to connect is
	// waited for, up to a bound.
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ended, err := r.sup.Reload(ctx, next)
	if err != nil {
		return err
	}
	if r.ops != nil {
		_ = r.ops.Set(ops) // checked above
	}
	r.loaded, r.agents = cfg, agents
	if r.board != nil {
		if r.digest, err = policyDigest(cfg); err != nil {
			r.log.Error("cannot digest the policy this replica now runs", "err", err)
		}
	}
	for _, name := range needsRestart(r.running, cfg) {
		r.log.Warn("reload: this setting changed but needs a restart; it keeps its running value", "setting", name)
	}
	r.log.Info("configuration reloaded", "agents", len(cfg.Agents), "sessions_ended", ended)
	return nil
}

// keepLocalTokens carries each kept agent's local token (serve's, for stdio
// bridges: see holder.go) over a reload: the config does not hold them, and
// a bridge running on one must keep working. An agent added by the reload
// has none until serve restarts.
func keepLocalTokens(before, after []supervisor.Agent) {
	local := make(map[string]string, len(before))
	for _, a := range before {
		local[a.Name] = a.LocalTokenSHA256
	}
	for i := range after {
		after[i].LocalTokenSHA256 = local[after[i].Name]
	}
}
