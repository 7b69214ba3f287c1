package supervisor

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/warden-dev/warden/store"
)

// SessionView is a session with its timeline, as the admin API and the CLI
// show it.
type SessionView struct {
	Session store.Session `json:"session"`
	Events  []store.Event `json:"events"`
}

// AdminHandler serves the admin API, for the bearer token whose hex SHA-256
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
//
// and, without the admin token (the signed token is the authority),
//
//	GET  /v1/decide?token=   a page that shows the held call and asks to confirm
//	POST /v1/decide          token=...: makes the link's decision, once
func (s *Supervisor) AdminHandler(tokenSHA256 string) (http.Handler, error) {
	want, err := adminHash(tokenSHA256)
	if err != nil {
		return nil, err
	}
	s.admin.Store(want)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/sessions", s.adminSessions)
	mux.HandleFunc("GET /v1/sessions/{id}", s.adminSession)
	mux.HandleFunc("GET /v1/verify", s.adminVerify)
	mux.HandleFunc("GET /v1/upstreams", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.hub.Status())
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
	links := http.NewServeMux()
	links.HandleFunc("GET /v1/decide", s.linkPage)
	links.HandleFunc("POST /v1/decide", s.linkDecide)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/decide" {
			links.ServeHTTP(w, r)
			return
		}
		token, _ := bearer(r)
		sum := sha256.Sum256([]byte(token))
		if token == "" || subtle.ConstantTimeCompare(sum[:], s.admin.Load()[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="warden-admin"`)
			writeJSON(w, http.StatusUnauthorized, apiError{"unauthorized: admin bearer token required"})
			return
		}
		mux.ServeHTTP(w, r)
	}), nil
}

// adminHash decodes the admin token's hash.
func adminHash(tokenSHA256 string) (*[sha256.Size]byte, error) {
	var h [sha256.Size]byte
	if n, err := hex.Decode(h[:], []byte(tokenSHA256)); err != nil || n != sha256.Size || len(tokenSHA256) != 2*sha256.Size {
		return nil, errors.New("admin token hash is not 64 hex digits")
	}
	return &h, nil
}

type apiError struct {
	Error string `json:"error"`
}

func (s *Supervisor) adminSessions(w http.ResponseWriter, r *http.Request) {
	f, err := ParseFilter(r.URL.Query().Get("agent"), r.URL.Query().Get("state"), r.URL.Query().Get("since"), r.URL.Query().Get("until"), r.URL.Query().Get("limit"))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{err.Error()})
		return
	}
	list, err := s.store.Sessions(r.Context(), f)
	if err != nil {
		writeStoreError(w, err)
		return
	}
	if list == nil {
		list = []store.Session{}
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *Supervisor) adminSession(w http.ResponseWriter, r *http.Request) {
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
	writeJSON(w, http.StatusOK, SessionView{Session: sess, Events: evs})
}

func (s *Supervisor) adminVerify(w http.ResponseWriter, r *http.Request) {
	rep, err := s.store.Verify(r.Context())
	if err != nil {
		writeStoreError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// ParseFilter reads a session filter from text, as the CLI and the admin
// API take it: since and until are RFC 3339 times or durations back from
// now ("24h").
func ParseFilter(agent, state, since, until, limit string) (store.Filter, error) {
	f := store.Filter{Agent: agent, State: state}
	var err error
	if f.Since, err = parseWhen(since); err != nil {
		return f, fmt.Errorf("since: %w", err)
	}
	if f.Until, err = parseWhen(until); err != nil {
		return f, fmt.Errorf("until: %w", err)
	}
	if limit != "" {
		if f.Limit, err = strconv.Atoi(limit); err != nil || f.Limit < 0 {
			return f, fmt.Errorf("limit: want a whole number, got %q", limit)
		}
	}
	return f, nil
}

func parseWhen(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("want an RFC 3339 time or a duration such as 24h, got %q", s)
	}
	return t, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
