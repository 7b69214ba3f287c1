package main

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/warden-dev/warden/config"
	"github.com/warden-dev/warden/sink"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/store/postgres"
)

// openPostgres opens the PostgreSQL history the configuration names,
// applying its migrations. Messages name the variable, never the URL.
func openPostgres(ctx context.Context, cfg *config.Config) (*postgres.DB, error) {
	p := cfg.Store.Postgres
	var opts []postgres.Option
	if p.Replica != "" {
		opts = append(opts, postgres.WithReplica(p.Replica))
	}
	db, err := postgres.Open(ctx, string(p.URL), opts...)
	if err != nil {
		return nil, fmt.Errorf("open the PostgreSQL history ($%s): %w", p.URLEnv, err)
	}
	return db, nil
}

// advertised is where the other replicas reach this one: the configured
// store.postgres.advertise, or the serve listener's own address (on
// loopback, as the configuration checked).
func advertised(p *config.Postgres, ln net.Addr) string {
	if p.Advertise != "" {
		return p.Advertise
	}
	return strings.TrimSuffix(localURL(ln), "/mcp")
}

// historyName says where a configuration keeps its history, for logs.
func historyName(cfg *config.Config) string {
	if p := cfg.Store.Postgres; p != nil {
		return "postgres ($" + p.URLEnv + ")"
	}
	return dbPath(cfg)
}

type migrateCmd struct {
	Config string `short:"c" help:"Configuration file naming the PostgreSQL history (store.postgres) to copy into." required:""`
	From   string `help:"The bbolt history file to copy (warden must not be running on it)." required:"" type:"existingfile"`
}

// Run copies a bbolt history into the configuration's PostgreSQL database
// and verifies the copy's chains; non-zero exit when they do not verify.
func (c *migrateCmd) Run(g *cli) error {
	cfg, err := loadConfig(c.Config)
	if err != nil {
		return err
	}
	if cfg.Store.Postgres == nil {
		return fmt.Errorf("%s has no store.postgres section: migrate copies a bbolt history into PostgreSQL", c.Config)
	}
	ctx := context.Background()
	src, err := store.Open(c.From, store.WithLockTimeout(300*time.Millisecond))
	if err != nil {
		return fmt.Errorf("open %s: %w", c.From, err)
	}
	defer src.Close()
	srcRep, err := src.Verify(ctx)
	if err != nil {
		return err
	}
	dst, err := openPostgres(ctx, cfg)
	if err != nil {
		return err
	}
	defer dst.Close()
	n, err := dst.Import(ctx, src)
	if err != nil {
		return err
	}
	rep, err := dst.Verify(ctx)
	if err != nil {
		return err
	}
	out := g.stdout()
	fmt.Fprintf(out, "copied %s into %s: %d sessions, %d events, %d approvals, %d pins, %d agent records, %d baselines\n",
		c.From, historyName(cfg), n.Sessions, n.Events, n.Approvals, n.Pins, n.Agents, n.Baselines)
	for _, b := range rep.Broken {
		fmt.Fprintf(out, "BROKEN session %s at event %d: %s\n", b.Session, b.Seq, b.Reason)
	}
	if len(rep.Broken) > 0 {
		return exitError{code: 1, msg: fmt.Sprintf("the copy has %d broken chains (the source had %d)", len(rep.Broken), len(srcRep.Broken))}
	}
	fmt.Fprintf(out, "verified the copy: %d chains, %d events intact\n", rep.Sessions, rep.Events)
	return nil
}

// What serve asks of a store besides store.Store.
var (
	_ sink.History    = (*postgres.DB)(nil)
	_ store.Baselines = (*postgres.DB)(nil)
)
