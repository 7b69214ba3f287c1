package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/charmbracelet/log"

	"github.com/warden-dev/warden/config"
	"github.com/warden-dev/warden/store/postgres"
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
	// SIGHUP is caught from the start, so that one sent while warden is
	// starting reloads once it serves rather than ending the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	return serve(ctx, cfg, logger, func(a *app, _ endpoints) {
		r := newReloader(a, logger)
		r.hup = hup
		if pg, ok := a.st.(*postgres.DB); ok && cfg.Store.Postgres.Replica != "" {
			r.share(pg, a.metrics.NewPolicyGauge())
			a.sup.OnPolicyAnnounced(r.tell)
		}
		a.bg.Go(r.run)
	})
}

// startTimeout bounds the upstreams' first connection at start.
const startTimeout = 30 * time.Second

// endpoints are where a running warden answers.
type endpoints struct {
	MCP   string // the MCP endpoint
	Admin string // the admin API's base URL; "" without one
}

// localURL is the MCP endpoint at addr as a stdio bridge on this machine
// reaches it: on loopback when serve listens on every address (a bridge
// trusts only loopback, and its local token works only from there).
func localURL(addr net.Addr) string {
	ap, err := netip.ParseAddrPort(addr.String())
	if err == nil && ap.Addr().IsUnspecified() {
		lo := netip.IPv6Loopback()
		if ap.Addr().Unmap().Is4() {
			lo = netip.MustParseAddr("127.0.0.1")
		}
		return "http://" + netip.AddrPortFrom(lo, ap.Port()).String() + "/mcp"
	}
	return "http://" + addr.String() + "/mcp"
}

// serve runs warden until ctx ends. ready, if set, is called with warden
// and its endpoints once it accepts connections.
func serve(ctx context.Context, cfg *config.Config, logger *log.Logger, ready func(a *app, at endpoints)) error {
	local := localTokens(cfg)
	a, err := assembleWith(cfg, logger, local)
	if err != nil {
		return err
	}
	defer a.close(context.Background())
	if err := startExport(a); err != nil {
		return err
	}

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
	// Published as soon as the endpoint listens (a stdio bridge's first
	// request waits in the listen queue while the upstreams connect), so
	// that a stdio started meanwhile finds serve rather than a bare lock.
	mcpURL := "http://" + ln.Addr().String() + "/mcp"
	if unpublish, err := (holder{PID: os.Getpid(), Command: "serve", MCP: localURL(ln.Addr()), Tokens: local}).publish(cfg); err != nil {
		logger.Warn("warden stdio on this config cannot act through this process", "err", err)
	} else {
		defer unpublish()
	}
	if p := cfg.Store.Postgres; p != nil && p.Replica != "" {
		a.sup.AdvertiseAt(advertised(p, ln.Addr()))
	}
	startCtx, cancel := context.WithTimeout(ctx, startTimeout)
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
		h, stopConsole, err := adminHandler(a, cfg.Admin)
		if err != nil {
			return err
		}
		srv := newAdminServer(h)
		srv.RegisterOnShutdown(stopConsole) // live streams would hold Shutdown
		servers = append(servers, srv)
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
	// Each upstream's connection (or failure to connect, and its retries)
	// is logged once, by the hub as it happens.
	policyWarnings(a, logger)
	logger.Info("warden serving", "mcp", mcpURL, "agents", len(cfg.Agents), "tools", len(a.hub.Catalog().Tools), "history", historyName(cfg))
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

// loadConfig loads a configuration, or fails with every problem listed.
func loadConfig(path string, opts ...config.Option) (*config.Config, error) {
	cfg, err := config.Load(path, opts...)
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
