// Package console is warden's web console, served on the admin listener
// under /console/: sessions and their timelines, held calls to decide,
// flags to review, agents to suspend or restore, tools whose definition
// changed, and kill buttons. Every action calls the same operation as the
// admin API, with the signed-in operator's name as the actor.
package console

import (
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"time"

	"github.com/warden-dev/warden/admin"
	"github.com/warden-dev/warden/supervisor"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Prefix is the path under which the console is served.
const Prefix = "/console/"

// csp forbids everything but the console's own scripts, styles, images,
// fetches and form posts: no inline script can run.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// console holds what the handlers share.
type console struct {
	sup      *supervisor.Supervisor
	ops      *admin.Operators
	logins   *logins
	limiter  *loginLimiter
	devices  *devices // key the limiter by browser where one signed in before
	held     *heldCalls
	pages    map[string]*template.Template
	sseLimit time.Duration // how long one event stream lasts before the browser reconnects
}

// Handler serves the console to the holders of sup's admin token (as
// admin.SharedName) and of the named operators' tokens (ops may be nil).
// The returned stop ends its live streams and its watch on sup.
func Handler(sup *supervisor.Supervisor, ops *admin.Operators) (h http.Handler, stop func(), err error) {
	pages, err := parsePages()
	if err != nil {
		return nil, nil, err
	}
	c := &console{sup: sup, ops: ops, logins: newLogins(8 * time.Hour), limiter: newLoginLimiter(5, time.Minute),
		devices: newDevices(), held: newHeldCalls(), pages: pages, sseLimit: 45 * time.Second}
	unwatch := sup.Watch(c.held.observe)
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		unwatch()
		return nil, nil, fmt.Errorf("console static files: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /console/static/", http.StripPrefix("/console/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /console/login", c.loginPage)
	mux.HandleFunc("POST /console/login", c.login)
	mux.Handle("POST /console/logout", c.action(c.logout))
	mux.Handle("GET /console/{$}", c.page(c.sessionsPage))
	mux.Handle("GET /console/sessions/{id}", c.page(c.timelinePage))
	mux.Handle("GET /console/approvals", c.page(c.approvalsPage))
	mux.Handle("GET /console/agents", c.page(c.agentsPage))
	mux.Handle("GET /console/tools", c.page(c.toolsPage))
	mux.Handle("GET /console/flags", c.page(c.flagsPage))
	mux.Handle("GET /console/events", c.authed(c.events))
	mux.Handle("POST /console/sessions/{id}/kill", c.action(c.killSession))
	mux.Handle("POST /console/approvals/{id}/decision", c.action(c.decide))
	mux.Handle("POST /console/agents/{name}/{op}", c.action(c.agentAction))
	mux.Handle("POST /console/tools/{name}/accept", c.action(c.acceptTool))
	mux.Handle("POST /console/flags/{id}/review", c.action(c.reviewFlag))
	return securityHeaders(mux), func() { unwatch(); c.held.close() }, nil
}

// securityHeaders sets the headers every console response carries.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}
