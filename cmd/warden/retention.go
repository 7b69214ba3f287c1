package main

import (
	"context"
	"fmt"
	"time"

	"github.com/charmbracelet/log"

	"github.com/warden-dev/warden/config"
	"github.com/warden-dev/warden/store"
)

// compactAtStartFree is the share of the history file that must be free
// pages for warden to compact it at start: below it, the copy costs more
// than the space it gives back.
const compactAtStartFree = 0.5

// retainer runs the retention policy on the store once at start and then
// every Retention.Every, until closed. The app that owns the store owns
// the retainer and closes it before the store.
type retainer struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// startRetention starts the loop. ran, if set, is told the outcome of
// each run (tests wait on it).
func startRetention(db *store.DB, cfg *config.Config, logger *log.Logger, ran func(store.PruneResult, error)) *retainer {
	ctx, cancel := context.WithCancel(context.Background())
	r := &retainer{cancel: cancel, done: make(chan struct{})}
	agents := map[string]*config.Agent{}
	for _, a := range cfg.Agents {
		agents[a.Name] = a
	}
	opts := store.PruneOptions{ExportDir: cfg.Retention.ExportDir, Policy: func(agent string) store.Retention {
		// An agent no longer configured gets the global limits.
		age, size := cfg.Retention.Limits(agents[agent])
		return store.Retention{MaxAge: age, MaxBytes: size}
	}}
	go func() {
		defer close(r.done)
		tick := time.NewTicker(cfg.Retention.Every)
		defer tick.Stop()
		for {
			opts.Now = time.Now()
			res, err := db.Prune(ctx, opts)
			switch {
			case ctx.Err() != nil:
				return
			case err != nil:
				logger.Error("history retention failed; nothing unexported was deleted", "err", err)
			case res.Sessions > 0:
				logger.Info("history pruned", "sessions", res.Sessions, "events", res.Events, "bytes", res.Bytes, "exported_to", res.Files)
			}
			if ran != nil {
				ran(res, err)
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return r
}

// close stops the loop, cancelling a run in progress (which leaves
// nothing half done: see store.Prune), and waits for it.
func (r *retainer) close() {
	if r == nil {
		return
	}
	r.cancel()
	<-r.done
}

// compactAtStart compacts the history file before it is opened, when
// retention is configured and enough of the file is free.
func compactAtStart(ctx context.Context, path string, logger *log.Logger) error {
	res, err := store.Compact(ctx, path, compactAtStartFree)
	if err != nil {
		return fmt.Errorf("compact history: %w", err)
	}
	if !res.Skipped {
		logger.Info("history compacted", "file", path, "before", res.Before, "after", res.After)
	}
	return nil
}

type compactCmd struct {
	Config string `short:"c" help:"Configuration file: compact its history file." xor:"where" required:""`
	DB     string `help:"A bbolt history file to compact." xor:"where" required:"" type:"existingfile"`
}

// Run compacts the history file; warden must be stopped.
func (c *compactCmd) Run(g *cli) error {
	path := c.DB
	if c.Config != "" {
		cfg, err := loadConfig(c.Config)
		if err != nil {
			return err
		}
		path = dbPath(cfg)
	}
	res, err := store.Compact(context.Background(), path, 0, store.WithLockTimeout(300*time.Millisecond))
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stdout(), "compacted %s: %d -> %d bytes\n", path, res.Before, res.After)
	return nil
}
