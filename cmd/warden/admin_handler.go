package main

import (
	"net/http"

	"github.com/warden-dev/warden/admin"
	"github.com/warden-dev/warden/admin/console"
	"github.com/warden-dev/warden/config"
)

// adminHandler serves the admin listener: the web console under
// /console/ and the admin API (with its decision links) everywhere else.
// The returned stop ends the console's live streams.
func adminHandler(a *app, cfg *config.Admin) (h http.Handler, stop func(), err error) {
	api, err := admin.Handler(a.sup, cfg.TokenSHA256, admin.WithMetrics(a.metrics))
	if err != nil {
		return nil, nil, err
	}
	con, stop, err := console.Handler(a.sup, operators(cfg))
	if err != nil {
		return nil, nil, err
	}
	mux := http.NewServeMux()
	mux.Handle(console.Prefix, con)
	mux.Handle("/", api)
	return mux, stop, nil
}

// operators are the named admin tokens that may sign in to the console
// besides the shared one. A token whose variable was unset (warden stdio
// lets it pass) signs no one in.
func operators(cfg *config.Admin) []console.Operator {
	var ops []console.Operator
	for _, t := range cfg.Tokens {
		if t.TokenSHA256 != "" {
			ops = append(ops, console.Operator{Name: t.Name, TokenSHA256: t.TokenSHA256})
		}
	}
	return ops
}
