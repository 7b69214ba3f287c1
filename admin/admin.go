// Package admin is warden's operator's HTTP surface: the admin API and the
// decision links. It calls the supervisor's exported operations, so that
// package supervisor keeps the call path, sessions and escalation.
package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
)

// Handler serves sup's admin API, for the bearer token whose hex SHA-256
// is tokenSHA256:
//
//	GET  /v1/sessions?agent=&state=&since=&until=&limit=   sessions, newest first
//	GET  /v1/sessions/{id}                                 one session and its timeline
//	POST /v1/sessions/{id}/kill      {"reason","by"}       kill a session
//	GET  /v1/verify                                        hash chains checked
//	GET  /v1/upstreams                                     upstream health
//	GET  /v1/approvals?state=&agent=&session=&limit=       approvals, newest first
//	GET  /v1/approvals/{id}                                one approval
//	POST /v1/approvals/{id}/decision {"decision","by"}     decide: once, session, deny, deny_kill
//	GET  /v1/tools                                         tools, their upstream, and whether their definition changed
//	POST /v1/tools/{name}/accept     {"by"}                accept a changed definition (re-pin it)
//	GET  /v1/agents                                        agents, suspension, live sessions
//	POST /v1/agents/{name}/kill      {"reason","by"}       kill every session of an agent
//	POST /v1/agents/{name}/suspend   {"reason","by","kill"}
//	POST /v1/agents/{name}/restore   {"by"}
//	GET  /v1/flags?state=&agent=&since=&limit=             flagged calls and signals, newest first
//	GET  /v1/flags/{id}                                    one flag
//	POST /v1/flags/{id}/review       {"note"}              review a flag, once
//
// and, without the admin token (the signed token is the authority),
//
//	GET  /v1/decide?token=   a page that shows the held call and asks to confirm
//	POST /v1/decide          token=...: makes the link's decision, once
//
// With WithMetrics it also serves, with the admin token,
//
//	GET  /metrics            the metrics in Prometheus's text format
func Handler(sup *supervisor.Supervisor, tokenSHA256 string, opts ...Option) (http.Handler, error) {
	s := &server{sup: sup, store: sup.Store()}
	for _, o := range opts {
		o(s)
	}
	if err := sup.SetAdminToken(tokenSHA256); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	if s.metrics != nil {
		mux.Handle("GET /metrics", s.metrics.handler(sup))
	}
	mux.HandleFunc("GET /v1/sessions", s.adminSessions)
	mux.HandleFunc("GET /v1/sessions/{id}", s.adminSession)
	mux.HandleFunc("GET /v1/verify", s.adminVerify)
	mux.HandleFunc("GET /v1/upstreams", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, sup.Upstreams())
	})
	mux.HandleFunc("POST /v1/sessions/{id}/kill", s.adminKillSession)
	mux.HandleFunc("GET /v1/approvals", s.adminApprovals)
	mux.HandleFunc("GET /v1/approvals/{id}", s.adminApproval)
	mux.HandleFunc("POST /v1/approvals/{id}/decision", s.adminDecide)
	mux.HandleFunc("GET /v1/tools", s.adminTools)
	mux.HandleFunc("POST /v1/tools/{name}/accept", s.adminAcceptTool)
	mux.HandleFunc("GET /v1/agents", s.adminAgents)
	mux.HandleFunc("POST /v1/agents/{name}/kill", s.adminKillAgent)
	mux.HandleFunc("POST /v1/agents/{name}/suspend", s.adminSuspend(true))
	mux.HandleFunc("POST /v1/agents/{name}/restore", s.adminSuspend(false))
	mux.HandleFunc("GET /v1/flags", s.adminFlags)
	mux.HandleFunc("GET /v1/flags/{id}", s.adminFlag)
	mux.HandleFunc("POST /v1/flags/{id}/review", s.adminReviewFlag)
	links := http.NewServeMux()
	links.HandleFunc("GET /v1/decide", s.linkPage)
	links.HandleFunc("POST /v1/decide", s.linkDecide)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/decide" {
			links.ServeHTTP(w, r)
			return
		}
		if token, _ := supervisor.Bearer(r); !sup.IsAdminToken(token) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="warden-admin"`)
			writeJSON(w, http.StatusUnauthorized, apiError{"unauthorized: admin bearer token required"})
			return
		}
		mux.ServeHTTP(w, r)
	}), nil
}

// server holds what the handlers read.
type server struct {
	sup     *supervisor.Supervisor
	store   store.Store
	metrics *Metrics // nil: no /metrics
}

// Option adds to what Handler serves.
type Option func(*server)

// WithMetrics serves m at /metrics, behind the admin token like the rest:
// a scraper sends it as a bearer token.
func WithMetrics(m *Metrics) Option {
	return func(s *server) { s.metrics = m }
}

type apiError struct {
	Error string `json:"error"`
}

func (s *server) adminSessions(w http.ResponseWriter, r *http.Request) {
	f, err := supervisor.ParseFilter(r.URL.Query().Get("agent"), r.URL.Query().Get("state"), r.URL.Query().Get("since"), r.URL.Query().Get("until"), r.URL.Query().Get("limit"))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{err.Error()})
		return
	}
	list, err := supervisor.SessionRows(r.Context(), s.store, f)
	if err != nil {
		writeStoreError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *server) adminSession(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	sess, err := s.store.Session(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeJSON(w, http.StatusNotFound, apiError{fmt.Sprintf("no session %q", id)})
		return
	}
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, apiError{err.Error()})
		return
	}
	evs, err := s.store.Events(r.Context(), id)
	if err != nil {
		writeStoreError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, supervisor.SessionView{Session: sess, Events: evs})
}

func (s *server) adminVerify(w http.ResponseWriter, r *http.Request) {
	rep, err := s.store.Verify(r.Context())
	if err != nil {
		writeStoreError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
