package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/charmbracelet/log"

	"github.com/warden-dev/warden/admin"
)

// serveAdminBeside serves the admin API, when the config has one, beside
// a stdio client. The stdio process owns the history file (no other
// process can open it while it runs), so `warden kill` and `warden agents
// suspend` reach its sessions only through its own API. The returned
// stop lets answers under way finish, then stops serving.
func serveAdminBeside(a *app, logger *log.Logger) (stop func(), err error) {
	cfg := a.cfg
	if cfg.Admin == nil {
		return func() {}, nil
	}
	h, err := admin.Handler(a.sup, cfg.Admin.TokenSHA256, admin.WithMetrics(a.metrics))
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Admin.Listen)
	if err != nil {
		return nil, fmt.Errorf("admin API: listen on %s: %w", cfg.Admin.Listen, err)
	}
	srv := newAdminServer(h)
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			logger.Error("admin API failed", "err", err)
		}
	}()
	logger.Info("admin API serving", "url", "http://"+ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

// newAdminServer serves the admin API, whose requests are short.
func newAdminServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 30 * time.Second, WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute}
}
