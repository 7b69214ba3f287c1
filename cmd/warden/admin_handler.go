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
	api, err := admin.Handler(a.sup, cfg.TokenSHA256, admin.WithMetrics(a.metrics), admin.WithOperators(a.ops))
	if err != nil {
		return nil, nil, err
	}
	con, stop, err := console.Handler(a.sup, a.ops)
	if err != nil {
		return nil, nil, err
	}
	mux := http.NewServeMux()
	mux.Handle(console.Prefix, con)
	mux.Handle("/", api)
	return mux, stop, nil
}

// operators are the named admin tokens (admin.tokens), none without an
// admin section. A token whose variable was unset (warden stdio lets it
// pass) is left out: it signs no one in.
func operators(cfg *config.Admin) []admin.Operator {
	var ops []admin.Operator
	if cfg == nil {
		return nil
	}
	for _, t := range cfg.Tokens {
		if t.TokenSHA256 != "" {
			ops = append(ops, admin.Operator{Name: t.Name, TokenSHA256: t.TokenSHA256})
		}
	}
	return ops
}
