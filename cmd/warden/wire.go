package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/charmbracelet/log"

	"github.com/warden-dev/warden/admin"
	"github.com/warden-dev/warden/config"
	"github.com/warden-dev/warden/eval"
	"github.com/warden-dev/warden/geo"
	"github.com/warden-dev/warden/notify"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
	"github.com/warden-dev/warden/tools"
)

// dbPath is where a configuration keeps its history.
func dbPath(cfg *config.Config) string { return filepath.Join(cfg.DataDir, "warden.db") }

// app is warden assembled from a configuration.
type app struct {
	cfg     *config.Config
	st      store.Store // the history: db, or PostgreSQL's
	db      *store.DB   // the bbolt history; nil on PostgreSQL
	hub     *tools.Hub
	sup     *supervisor.Supervisor
	agents  []supervisor.Agent // as the supervisor was given them; a reload keeps their judges
	senders notifiers
	log     *log.Logger
	ret     *retainer   // nil without retention, or before start
	anc     *anchorer   // nil without an anchor, or before start
	bg      *background // stopped first, before what it uses closes
	geo     *geo.DB     // nil without geolocation
	metrics *admin.Metrics
	ops     *admin.Operators // the named admin tokens; a reload replaces them
	traces  traces           // flushed after the supervisor closes
}

// assemble opens the store and builds the hub and the supervisor; start
// connects the upstreams.
func assemble(cfg *config.Config, logger *log.Logger) (*app, error) {
	return assembleWith(cfg, logger, nil)
}

// assembleWith is assemble with a local token per agent (by name) that
// authenticates it besides its own: serve's, for stdio bridges.
func assembleWith(cfg *config.Config, logger *log.Logger, local map[string]string) (*app, error) {
	// Warnings are logged once the upstreams' tools are known (policyWarnings).
	ps, _, err := loadPolicies(cfg)
	if err != nil {
		return nil, exitError{code: 2, msg: "invalid policy:\n" + err.Error()}
	}
	// Before anything is opened: a judge's key missing from the
	// environment stops warden here, naming the agent and the variable.
	agents, err := agentsOf(cfg, os.Getenv)
	if err != nil {
		return nil, err
	}
	for i := range agents {
		if tok := local[agents[i].Name]; tok != "" {
			agents[i].LocalTokenSHA256 = config.HashToken(tok)
		}
	}
	ops, err := admin.NewOperators(operators(cfg.Admin))
	if err != nil {
		return nil, err
	}
	st, db, err := openStore(cfg, logger)
	if err != nil {
		return nil, err
	}
	hub, err := tools.NewHub(upstreamSpecs(cfg), tools.Options{Logger: logger, Version: version, Names: st})
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	metrics := admin.NewMetrics()
	esc, senders, err := escalationOf(cfg, logger, metrics.Delivered)
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	network, err := networkOf(cfg)
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	tr, err := tracesOf(cfg, logger)
	if err != nil {
		closeGeo(network.Geo)
		_ = db.Close()
		return nil, err
	}
	sup, err := supervisor.New(supervisor.Options{
		Hub: hub, Store: st, Agents: agents, Logger: logger, Tracer: tr.provider(),
		MaxBodyBytes: cfg.MaxBodyBytes, IdleTTL: cfg.SessionIdleTTL,
		AllowedHosts: cfg.AllowedHosts, AllowedOrigins: cfg.AllowedOrigins,
		Version: version, Policies: ps, Escalation: esc, Limits: limitsOf(cfg), KeysOnly: keysOnly(cfg),
		Network: network, Observer: metrics,
	})
	if err != nil {
		tr.close(context.Background())
		closeGeo(network.Geo)
		_ = st.Close()
		return nil, err
	}
	return &app{cfg: cfg, st: st, db: db, hub: hub, sup: sup, agents: agents, senders: senders, log: logger, bg: newBackground(), geo: network.Geo,
		metrics: metrics, traces: tr, ops: ops}, nil
}

// openStore opens the history the configuration names: PostgreSQL's
// (st, with db nil) or the bbolt file in data_dir (st and db the same).
func openStore(cfg *config.Config, logger *log.Logger) (st store.Store, db *store.DB, err error) {
	if cfg.Store.Postgres != nil {
		// data_dir still holds holder.json (stdio bridges find serve by
		// it) and the export cursor; bbolt's Open would have made it.
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, nil, fmt.Errorf("data_dir: %w", err)
		}
		pg, err := openPostgres(context.Background(), cfg)
		if err != nil {
			return nil, nil, err
		}
		return pg, nil, nil
	}
	if cfg.Retention != nil {
		if err := compactAtStart(context.Background(), dbPath(cfg), logger); locked(err) {
			return nil, nil, heldError(cfg, err)
		} else if err != nil {
			return nil, nil, err
		}
	}
	db, err = store.Open(dbPath(cfg), store.WithSessionLog())
	if locked(err) {
		return nil, nil, heldError(cfg, err)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("open history: %w", err)
	}
	if n := db.Recovered(); n > 0 {
		// Open fails rather than recover part of the log, so this is all.
		logger.Info("recovered every acknowledged event a crash left in the write-ahead log", "events", n)
	}
	return db, db, nil
}

// networkOf opens the geolocation databases the network section names.
func networkOf(cfg *config.Config) (supervisor.Network, error) {
	n := supervisor.Network{TrustedProxies: cfg.Network.TrustedProxies, FingerprintHeader: cfg.Network.FingerprintHeader}
	if g := cfg.Network.GeoIP; g != nil {
		db, err := geo.Open(g.CountryDB, g.ASNDB)
		if err != nil {
			return n, fmt.Errorf("network.geoip: %w", err)
		}
		n.Geo = db
	}
	return n, nil
}

func closeGeo(db *geo.DB) {
	if db != nil {
		_ = db.Close()
	}
}

// keysOnly names the upstreams whose calls are not held to their tools'
// input schemas.
func keysOnly(cfg *config.Config) []string {
	var names []string
	for _, u := range cfg.Upstreams {
		if u.ValidateArgs == config.ArgsKeysOnly {
			names = append(names, u.Name)
		}
	}
	return names
}

// escalationOf turns the approvals, throttle and revalidation sections
// into the supervisor's options, with one webhook sender per payload shape.
func escalationOf(cfg *config.Config, logger *log.Logger, delivered func(eventType string, err error)) (supervisor.Escalation, notifiers, error) {
	esc := supervisor.Escalation{
		// Approvers can decide through the admin API (and its links) or
		// elicitation; with neither, nobody could, and a step-up is denied.
		Approvals:       cfg.Admin != nil || cfg.Approvals.Elicitation,
		ApprovalTimeout: cfg.Approvals.Timeout,
		LinkSecret:      cfg.Approvals.Secret,
		PublicURL:       cfg.Approvals.PublicURL,
		Elicitation:     cfg.Approvals.Elicitation,
		OnChange:        cfg.Revalidation.OnChange,
		SignalWeights:   cfg.Revalidation.SignalWeights,
		DormantAfter:    cfg.Revalidation.DormantAfter,
	}
	th := throttleOf(cfg)
	esc.MaxDelay, esc.SessionRate, esc.AgentRate, esc.AgentSessionRate = th.MaxDelay, th.SessionRate, th.AgentRate, th.AgentSessionRate
	var senders notifiers
	for _, slack := range []bool{false, true} {
		var urls []string
		for _, w := range cfg.Approvals.Webhooks {
			if w.Slack == slack {
				urls = append(urls, w.URL)
			}
		}
		if len(urls) == 0 {
			continue
		}
		snd, err := notify.New(notify.Options{URLs: urls, Secret: cfg.Approvals.Secret, Slack: slack, Logger: logger, Delivered: delivered})
		if err != nil {
			return esc, nil, fmt.Errorf("webhooks: %w", err)
		}
		senders = append(senders, snd)
	}
	if len(senders) > 0 {
		esc.Notifier = senders
	}
	return esc, senders, nil
}

// throttleOf is the throttle section and the agents' own throttles as the
// supervisor's rates (the only fields of the Escalation it sets), which a
// reload replaces.
func throttleOf(cfg *config.Config) supervisor.Escalation {
	esc := supervisor.Escalation{MaxDelay: cfg.Throttle.MaxDelay}
	if esc.MaxDelay == 0 {
		esc.MaxDelay = time.Nanosecond // "0s": refuse at once rather than wait
	}
	if r := cfg.Throttle.Session; r != nil {
		esc.SessionRate = supervisor.Rate{PerMinute: r.PerMinute, Burst: r.Burst}
	}
	if r := cfg.Throttle.Agent; r != nil {
		esc.AgentRate = supervisor.Rate{PerMinute: r.PerMinute, Burst: r.Burst}
	}
	for _, a := range cfg.Agents {
		if a.Throttle != nil {
			if esc.AgentSessionRate == nil {
				esc.AgentSessionRate = map[string]supervisor.Rate{}
			}
			esc.AgentSessionRate[a.Name] = supervisor.Rate{PerMinute: a.Throttle.PerMinute, Burst: a.Throttle.Burst}
		}
	}
	return esc
}

// limitsOf turns the limits section and the agents' budgets into the
// supervisor's limits.
func limitsOf(cfg *config.Config) supervisor.Limits {
	var l supervisor.Limits
	if c := cfg.Limits; c != nil {
		l = supervisor.Limits{SessionsPerAgent: c.SessionsPerAgent, PendingPerSession: c.PendingPerSession, PendingPerAgent: c.PendingPerAgent,
			Initialize: supervisor.Rate{PerMinute: c.Initialize.PerMinute, Burst: c.Initialize.Burst}}
	}
	for _, a := range cfg.Agents {
		for _, b := range a.Budgets {
			if l.Budgets == nil {
				l.Budgets = map[string][]supervisor.Budget{}
			}
			l.Budgets[a.Name] = append(l.Budgets[a.Name], supervisor.Budget{Tools: b.Tools, Max: b.Max, Per: b.Per})
		}
	}
	return l
}

// notifiers sends each message through every sender.
type notifiers []*notify.Sender

func (ns notifiers) Go(ctx context.Context, m notify.Message) bool {
	ok := true
	for _, n := range ns {
		ok = n.Go(ctx, m) && ok
	}
	return ok
}

// close waits for deliveries in flight, up to ctx.
func (ns notifiers) close(ctx context.Context) {
	for _, n := range ns {
		_ = n.Close(ctx)
	}
}

// start connects the upstreams, then starts retention and the anchor's
// checkpoints (if configured).
func (a *app) start(ctx context.Context) error {
	if err := a.sup.Start(ctx); err != nil {
		return err
	}
	if a.cfg.Anchor != nil {
		anc, err := a.startAnchor()
		if err != nil {
			return err
		}
		a.anc = anc
	}
	if a.cfg.Retention != nil {
		a.ret = startRetention(a.db, a.cfg, a.log, nil)
	}
	return nil
}

// close ends background work, sessions, upstreams, webhook deliveries,
// retention, the anchor (after a last checkpoint) and the store, in that
// order.
func (a *app) close(ctx context.Context) {
	a.bg.stop()
	_ = a.sup.Close(ctx)
	_ = a.hub.Close()
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	a.senders.close(dctx)
	a.traces.close(dctx)
	a.ret.close()
	a.anc.close(dctx)
	cancel()
	_ = a.st.Close()
	closeGeo(a.geo)
}

func upstreamSpecs(cfg *config.Config) []tools.Spec {
	specs := make([]tools.Spec, 0, len(cfg.Upstreams))
	for _, u := range cfg.Upstreams {
		s := tools.Spec{
			Name: u.Name, Prefix: u.ToolPrefix, CallTimeout: u.CallTimeout,
			Sharing: tools.Sharing(u.Sessions), MaxSessions: u.MaxSessions, IdleTimeout: u.SessionIdleTimeout, Spare: u.SpareSessions,
		}
		if s.Spare == 0 {
			s.Spare = -1 // the config has resolved the default: 0 means none, not the transport's
		}
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

// agentsOf turns the configured agents into the supervisor's, building
// each one's judge with its key from getenv.
func agentsOf(cfg *config.Config, getenv func(string) string) ([]supervisor.Agent, error) {
	out := make([]supervisor.Agent, 0, len(cfg.Agents))
	for _, a := range cfg.Agents {
		judge, bounds, err := judgeOf(a.Judge, getenv)
		if err != nil {
			return nil, fmt.Errorf("agent %q: %w", a.Name, err)
		}
		out = append(out, supervisor.Agent{Name: a.Name, TokenSHA256: a.TokenSHA256, Upstreams: a.Upstreams, Tools: a.Tools,
			Resources: a.Resources, Prompts: a.Prompts,
			DigestResults: a.RecordResults.Digest, KeepWithheld: a.RecordResults.KeepWithheld(),
			Judge: judge, JudgeBounds: bounds})
	}
	return out, nil
}

// judgeOf builds the judge a judge section configures, and the bounds it
// moves verdicts within; nil for no section.
func judgeOf(j *config.Judge, getenv func(string) string) (*eval.Judge, eval.Bounds, error) {
	if j == nil {
		return nil, eval.Bounds{}, nil
	}
	key := ""
	if j.KeyEnv != "" {
		key = getenv(j.KeyEnv) // NewJudge refuses it empty, naming the variable
	}
	judge, err := eval.NewJudge(eval.JudgeConfig{Endpoint: j.Endpoint, Model: j.Model, KeyEnv: j.KeyEnv, Timeout: j.Timeout,
		PerMinute: j.PerMinute, CacheSize: j.CacheSize, CacheTTL: j.CacheTTL}, key)
	if err != nil {
		return nil, eval.Bounds{}, err
	}
	return judge, eval.Bounds{Clear: j.MayClear, Raise: j.MayRaise}, nil
}
