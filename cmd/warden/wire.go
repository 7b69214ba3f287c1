package main

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"

	"github.com/charmbracelet/log"

	"github.com/warden-dev/warden/config"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
	"github.com/warden-dev/warden/tools"
)

// dbPath is where a configuration keeps its history.
func dbPath(cfg *config.Config) string { return filepath.Join(cfg.DataDir, "warden.db") }

// app is warden assembled from a configuration.
type app struct {
	cfg *config.Config
	db  *store.DB
	hub *tools.Hub
	sup *supervisor.Supervisor
}

// assemble opens the store and builds the hub and the supervisor; start
// connects the upstreams.
func assemble(cfg *config.Config, logger *log.Logger) (*app, error) {
	ps, warnings, err := loadPolicies(cfg)
	if err != nil {
		return nil, exitError{code: 2, msg: "invalid policy:\n" + err.Error()}
	}
	for _, w := range warnings {
		logger.Warn(w)
	}
	db, err := store.Open(dbPath(cfg))
	if err != nil {
		return nil, fmt.Errorf("open history: %w", err)
	}
	hub, err := tools.NewHub(upstreamSpecs(cfg), tools.Options{Logger: logger})
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	sup, err := supervisor.New(supervisor.Options{
		Hub: hub, Store: db, Agents: agentsOf(cfg), Logger: logger,
		MaxBodyBytes: cfg.MaxBodyBytes, IdleTTL: cfg.SessionIdleTTL,
		AllowedHosts: cfg.AllowedHosts, AllowedOrigins: cfg.AllowedOrigins,
		Version: version, Policies: ps,
	})
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	return &app{cfg: cfg, db: db, hub: hub, sup: sup}, nil
}

func (a *app) start(ctx context.Context) error { return a.sup.Start(ctx) }

// close ends sessions, upstreams and the store, in that order.
func (a *app) close(ctx context.Context) {
	_ = a.sup.Close(ctx)
	_ = a.hub.Close()
	_ = a.db.Close()
}

func upstreamSpecs(cfg *config.Config) []tools.Spec {
	specs := make([]tools.Spec, 0, len(cfg.Upstreams))
	for _, u := range cfg.Upstreams {
		s := tools.Spec{Name: u.Name, Prefix: u.ToolPrefix, CallTimeout: u.CallTimeout}
		switch u.Transport {
		case config.TransportStdio:
			s.Command, s.Args, s.Dir = u.Stdio.Command, u.Stdio.Args, u.Stdio.Dir
			keys := make([]string, 0, len(u.Stdio.Env))
			for k := range u.Stdio.Env {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				s.Env = append(s.Env, k+"="+u.Stdio.Env[k])
			}
		case config.TransportHTTP, config.TransportSSE:
			s.URL, s.Headers, s.SSE = u.Remote.URL, u.Remote.Headers, u.Transport == config.TransportSSE
		}
		specs = append(specs, s)
	}
	return specs
}

func agentsOf(cfg *config.Config) []supervisor.Agent {
	out := make([]supervisor.Agent, 0, len(cfg.Agents))
	for _, a := range cfg.Agents {
		out = append(out, supervisor.Agent{Name: a.Name, TokenSHA256: a.TokenSHA256, Upstreams: a.Upstreams, Tools: a.Tools})
	}
	return out
}
