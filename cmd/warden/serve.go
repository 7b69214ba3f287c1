package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/charmbracelet/log"

	"github.com/warden-dev/warden/admin"
	"github.com/warden-dev/warden/config"
)

type serveCmd struct {
	Config string `short:"c" required:"" help:"Configuration file (YAML)." type:"existingfile"`
}

func (c *serveCmd) Run(g *cli) error {
	cfg, err := loadConfig(c.Config)
	if err != nil {
		return err
	}
	logger := newLogger(os.Stderr, g, cfg.Log.Level, cfg.Log.Format)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serve(ctx, cfg, logger, func(a *app, _ endpoints) {
		a.bg.Go((&reloader{path: cfg.File, sup: a.sup, log: logger, loaded: cfg}).run)
	})
}

// endpoints are where a running warden answers.
type endpoints struct {
	MCP   string // the MCP endpoint
	Admin string // the admin API's base URL; "" without one
}

// serve runs warden until ctx ends. ready, if set, is called with warden
// and its endpoints once it accepts connections.
func serve(ctx context.Context, cfg *config.Config, logger *log.Logger, ready func(a *app, at endpoints)) error {
	a, err := assemble(cfg, logger)
	if err != nil {
		return err
	}
	defer a.close(context.Background())

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	var adminLn net.Listener
	if cfg.Admin != nil {
		if adminLn, err = net.Listen("tcp", cfg.Admin.Listen); err != nil {
			ln.Close()
			return fmt.Errorf("admin API: listen on %s: %w", cfg.Admin.Listen, err)
		}
	}
	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = a.start(startCtx)
	cancel()
	if err != nil {
		ln.Close()
		if adminLn != nil {
			adminLn.Close()
		}
		return err
	}

	// The MCP server's requests may be held (step-up) or stream for long;
	// idle connections still close. The admin API's are short.
	servers := []*http.Server{{Handler: a.sup.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}}
	listeners := []net.Listener{ln}
	if adminLn != nil {
		h, err := admin.Handler(a.sup, cfg.Admin.TokenSHA256, admin.WithMetrics(a.metrics))
		if err != nil {
			return err
		}
		servers = append(servers, newAdminServer(h))
		listeners = append(listeners, adminLn)
	}
	errc := make(chan error, len(servers))
	var serving sync.WaitGroup
	for i, srv := range servers {
		serving.Go(func() {
			if err := srv.Serve(listeners[i]); !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		})
	}
	mcpURL := "http://" + ln.Addr().String() + "/mcp"
	// Each upstream's connection (or failure to connect, and its retries)
	// is logged once, by the hub as it happens.
	policyWarnings(a, logger)
	logger.Info("warden serving", "mcp", mcpURL, "agents", len(cfg.Agents), "tools", len(a.hub.Catalog().Tools), "history", dbPath(cfg))
	at := endpoints{MCP: mcpURL}
	if adminLn != nil {
		at.Admin = "http://" + adminLn.Addr().String()
		logger.Info("admin API serving", "url", at.Admin)
	}
	if ready != nil {
		ready(a, at)
	}

	select {
	case <-ctx.Done():
	case err = <-errc:
		logger.Error("server failed", "err", err)
	}
	logger.Info("shutting down")
	a.bg.stop()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Release held calls and let sessions know first, so that the servers'
	// shutdown does not wait on them.
	_ = a.sup.Close(sctx)
	for _, srv := range servers {
		_ = srv.Shutdown(sctx)
	}
	serving.Wait()
	return err
}

type stdioCmd struct {
	Config string `short:"c" required:"" help:"Configuration file (YAML)." type:"existingfile"`
	Agent  string `required:"" help:"The agent this client acts as (its identity comes from this flag, not a token)."`
}

func (c *stdioCmd) Run(g *cli) error {
	cfg, err := loadConfig(c.Config)
	if err != nil {
		return err
	}
	// stdout carries the protocol: logs go to stderr only.
	logger := newLogger(os.Stderr, g, cfg.Log.Level, cfg.Log.Format)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	oneSession(cfg)
	a, err := assemble(cfg, logger)
	if err != nil {
		return err
	}
	defer a.close(context.Background())
	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = a.start(startCtx)
	cancel()
	if err != nil {
		return err
	}
	policyWarnings(a, logger)
	stopAdmin, err := serveAdminBeside(a, logger)
	if err != nil {
		return err
	}
	defer stopAdmin()
	return a.sup.ServeStdio(ctx, c.Agent, os.Stdin, os.Stdout)
}

// loadConfig loads a configuration, or fails with every problem listed.
func loadConfig(path string) (*config.Config, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, exitError{code: 2, msg: "invalid configuration:\n" + err.Error()}
	}
	return cfg, nil
}

// policyWarnings logs what is doubtful in the policies, including workflow
// steps whose tool no connected upstream offers (a typo, or an upstream
// that is down).
func policyWarnings(a *app, logger *log.Logger) {
	var names []string
	for _, t := range a.hub.Catalog().Tools {
		names = append(names, t.Def.Name)
	}
	if _, warnings, err := loadPolicies(a.cfg, names...); err == nil {
		for _, w := range warnings {
			logger.Warn(w)
		}
	}
}

// oneSession sets every upstream shared: a stdio warden serves one agent
// session, so warden's own session with each upstream is that agent
// session's alone, and a process (or an HTTP session) per agent session
// beside it would only cost.
func oneSession(cfg *config.Config) {
	for _, u := range cfg.Upstreams {
		u.Sessions, u.MaxSessions, u.SessionIdleTimeout, u.SpareSessions = config.SessionsShared, 0, 0, 0
	}
}
