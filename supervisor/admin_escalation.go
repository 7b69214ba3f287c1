package supervisor

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/warden-dev/warden/store"
)

// maxAdminBody bounds an admin request's body.
const maxAdminBody = 64 << 10

// readBody decodes an admin request's JSON body into v (an empty body is
// an empty object).
func readBody(r *http.Request, v any) error {
	b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxAdminBody))
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	if len(b) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("body: %w", err)
	}
	return nil
}

// readAttributed reads a body that must say who acts (into *by); it
// answers the request itself and reports false when the body is unusable.
func readAttributed(w http.ResponseWriter, r *http.Request, v any, by *string, verb string) bool {
	if err := readBody(r, v); err != nil {
		badBody(w, err)
		return false
	}
	if *by == "" {
		writeJSON(w, http.StatusBadRequest, apiError{`"by" is required: who ` + verb + ` is recorded`})
		return false
	}
	return true
}

// badBody answers a request whose body could not be read: 413 when it was
// too large, 400 otherwise.
func badBody(w http.ResponseWriter, err error) {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeJSON(w, http.StatusRequestEntityTooLarge, apiError{"request body exceeds the limit"})
		return
	}
	writeJSON(w, http.StatusBadRequest, apiError{err.Error()})
}

type decisionRequest struct {
	Decision string `json:"decision"`
	By       string `json:"by"`
	Note     string `json:"note,omitempty"`
}

type reasonRequest struct {
	Reason string `json:"reason"`
	By     string `json:"by"`
	Kill   bool   `json:"kill,omitempty"`
}

func (s *Supervisor) adminApprovals(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.ApprovalFilter{State: q.Get("state"), Agent: q.Get("agent"), Session: q.Get("session")}
	switch f.State {
	case "", store.ApprovalPending, store.ApprovalApproved, store.ApprovalDenied, store.ApprovalExpired:
	default:
		writeJSON(w, http.StatusBadRequest, apiError{fmt.Sprintf("state: want %s, %s, %s or %s, got %q",
			store.ApprovalPending, store.ApprovalApproved, store.ApprovalDenied, store.ApprovalExpired, f.State)})
		return
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 {
			writeJSON(w, http.StatusBadRequest, apiError{fmt.Sprintf("limit: want a whole number, got %q", l)})
			return
		}
		f.Limit = n
	}
	list, err := s.store.Approvals(r.Context(), f)
	if err != nil {
		writeStoreError(w, err)
		return
	}
	if list == nil {
		list = []store.Approval{}
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *Supervisor) adminApproval(w http.ResponseWriter, r *http.Request) {
	a, err := s.store.Approval(r.Context(), r.PathValue("id"))
	if err != nil {
		writeStoreError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *Supervisor) adminDecide(w http.ResponseWriter, r *http.Request) {
	var req decisionRequest
	if !readAttributed(w, r, &req, &req.By, "decides") {
		return
	}
	a, err := s.decideApproval(r.Context(), r.PathValue("id"), req.Decision, req.By)
	if err != nil {
		writeStoreError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

// errInvalid is wrapped by the errors of an operation asked for with
// unusable input: the client's fault, not warden's.
var errInvalid = errors.New("invalid request")

// statusOf maps an operation's error to HTTP: unknown 404, already decided
// 409, expired 410, invalid input 400; anything else (the store failed) is
// warden's fault, 500.
func statusOf(err error) int {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, store.ErrDecided):
		return http.StatusConflict
	case errors.Is(err, store.ErrExpired):
		return http.StatusGone
	case errors.Is(err, errInvalid):
		return http.StatusBadRequest
	default:
		return http.StatusInternalServerError
	}
}

// writeStoreError answers with an operation's error, its status as statusOf
// says.
func writeStoreError(w http.ResponseWriter, err error) {
	writeJSON(w, statusOf(err), apiError{err.Error()})
}

func (s *Supervisor) adminKillSession(w http.ResponseWriter, r *http.Request) {
	var req reasonRequest
	if err := readBody(r, &req); err != nil {
		badBody(w, err)
		return
	}
	if req.By == "" {
		req.By = "admin API"
	}
	if req.Reason == "" {
		req.Reason = "killed by " + req.By
	}
	if err := s.killRecorded(r.Context(), r.PathValue("id"), req.Reason, req.By); err != nil {
		writeStoreError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"killed": true})
}

func (s *Supervisor) adminKillAgent(w http.ResponseWriter, r *http.Request) {
	var req reasonRequest
	if err := readBody(r, &req); err != nil {
		badBody(w, err)
		return
	}
	name := r.PathValue("name")
	if _, ok := s.agents.Load().byName(name); !ok {
		writeJSON(w, http.StatusNotFound, apiError{fmt.Sprintf("no agent %q", name)})
		return
	}
	if req.By == "" {
		req.By = "admin API"
	}
	if req.Reason == "" {
		req.Reason = "every session of " + name + " killed by " + req.By
	}
	writeJSON(w, http.StatusOK, map[string]any{"killed": s.killAgent(r.Context(), name, req.Reason, req.By)})
}

// AgentStatus is an agent as the admin API lists it.
type AgentStatus struct {
	Name         string `json:"name"`
	Suspended    bool   `json:"suspended"`
	Reason       string `json:"reason,omitempty"`
	LiveSessions int    `json:"live_sessions"`
}

func (s *Supervisor) adminAgents(w http.ResponseWriter, r *http.Request) {
	live := map[string]int{}
	for _, sess := range s.sessions.all() {
		live[sess.agent.Name]++
	}
	list := s.agents.Load().list
	out := make([]AgentStatus, 0, len(list))
	for _, a := range list {
		rec, suspended := s.suspension(a.Name)
		out = append(out, AgentStatus{Name: a.Name, Suspended: suspended, Reason: rec.Reason, LiveSessions: live[a.Name]})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Supervisor) adminSuspend(suspend bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req reasonRequest
		if err := readBody(r, &req); err != nil {
			badBody(w, err)
			return
		}
		if req.By == "" {
			req.By = "admin API"
		}
		rec := store.AgentRecord{Name: r.PathValue("name"), Suspended: suspend, Reason: req.Reason, By: req.By}
		killed, err := s.setSuspended(r.Context(), rec, req.Kill)
		if err != nil {
			writeStoreError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"name": r.PathValue("name"), "suspended": suspend, "killed": killed})
	}
}

// The decision-link page. A GET only shows the held call and a button:
// link scanners and chat unfurlers open URLs on their own, and must not
// use up a single-use decision. The POST decides.
var linkPageTmpl = template.Must(template.New("decide").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>warden: approve a held call?</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 2em auto">
<h1>{{.Decision}}: {{.A.Agent}} → {{.A.Tool}}</h1>
<p>Session <code>{{.A.Session}}</code>, approval <code>{{.A.ID}}</code>, state <b>{{.A.State}}</b>, expires {{.A.Expires}}.</p>
<p>Why it was held:</p><ul>{{range .A.Reasons}}<li>{{.}}</li>{{end}}</ul>
<p>Arguments:</p><pre>{{printf "%s" .A.Args}}</pre>
{{if eq .A.State "pending"}}<form method="post" action="decide">
<input type="hidden" name="token" value="{{.Token}}">
<button type="submit">Confirm: {{.Decision}}</button></form>{{else}}<p>This call is no longer held.</p>{{end}}
</body></html>`))

func (s *Supervisor) linkToken(ctx context.Context, w http.ResponseWriter, token string) (store.Approval, string, bool) {
	if s.links == nil {
		http.Error(w, "decision links are not configured", http.StatusNotFound)
		return store.Approval{}, "", false
	}
	id, decision, err := s.links.verify(token, time.Now())
	if err != nil {
		http.Error(w, "invalid decision link: "+err.Error(), http.StatusForbidden)
		return store.Approval{}, "", false
	}
	a, err := s.store.Approval(ctx, id)
	if err != nil {
		http.Error(w, "approval: "+err.Error(), statusOf(err))
		return store.Approval{}, "", false
	}
	return a, decision, true
}

func (s *Supervisor) linkPage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	a, decision, ok := s.linkToken(r.Context(), w, token)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	_ = linkPageTmpl.Execute(w, map[string]any{"A": a, "Decision": decision, "Token": token})
}

func (s *Supervisor) linkDecide(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxAdminBody)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	a, decision, ok := s.linkToken(r.Context(), w, r.PostForm.Get("token"))
	if !ok {
		return
	}
	got, err := s.decideApproval(r.Context(), a.ID, decision, "decision link "+linkID(r.PostForm.Get("token")))
	switch {
	case errors.Is(err, store.ErrDecided):
		http.Error(w, fmt.Sprintf("already decided: %s by %s", got.Decision, got.DecidedBy), http.StatusConflict)
	case errors.Is(err, store.ErrExpired):
		http.Error(w, "expired: the call is no longer held", http.StatusGone)
	case err != nil:
		http.Error(w, err.Error(), statusOf(err))
	default:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "decided: %s on %s's call of %s\n", got.Decision, got.Agent, got.Tool)
	}
}

// linkID names a decision link in the record without making it usable: a
// short digest of its token, to match against the webhook that carried it.
func linkID(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:4])
}

// ToolStatus is a tool as the admin API lists it.
type ToolStatus struct {
	Name     string `json:"name"` // as agents see it
	Upstream string `json:"upstream"`
	Hash     string `json:"hash"`
	// Changed is set when the definition differs from its pin: calls step
	// up until an admin accepts it.
	Changed bool   `json:"changed"`
	Pinned  string `json:"pinned,omitempty"`
}

func (s *Supervisor) adminTools(w http.ResponseWriter, _ *http.Request) {
	changed := s.changedTools()
	cat := s.hub.Catalog()
	out := make([]ToolStatus, 0, len(cat.Tools))
	for _, t := range cat.Tools {
		st := ToolStatus{Name: t.Def.Name, Upstream: t.Upstream, Hash: t.Hash}
		if ch, ok := changed[t.Def.Name]; ok {
			st.Changed, st.Pinned = true, ch.pinned
		}
		out = append(out, st)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Supervisor) adminAcceptTool(w http.ResponseWriter, r *http.Request) {
	var req reasonRequest
	if !readAttributed(w, r, &req, &req.By, "accepts") {
		return
	}
	if err := s.acceptTool(r.Context(), r.PathValue("name"), req.By); err != nil {
		writeStoreError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"name": r.PathValue("name"), "accepted": true})
}
