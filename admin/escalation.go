package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
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
	if n := named(r.Context()); n != "" {
		*by = n
	}
	if *by == "" {
		writeJSON(w, http.StatusBadRequest, apiError{`"by" is required: who ` + verb + ` is recorded`})
		return false
	}
	return true
}

// readReason reads a kill or suspension's body; who acts is "admin API"
// when it does not say. It answers the request itself and reports false
// when the body is unusable.
func readReason(w http.ResponseWriter, r *http.Request, req *reasonRequest) bool {
	if err := readBody(r, req); err != nil {
		badBody(w, err)
		return false
	}
	if n := named(r.Context()); n != "" {
		req.By = n
	}
	if req.By == "" {
		req.By = "admin API"
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

func (s *server) adminApprovals(w http.ResponseWriter, r *http.Request) {
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

func (s *server) adminApproval(w http.ResponseWriter, r *http.Request) {
	a, err := s.store.Approval(r.Context(), r.PathValue("id"))
	if err != nil {
		writeStoreError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *server) adminDecide(w http.ResponseWriter, r *http.Request) {
	var req decisionRequest
	if !readAttributed(w, r, &req, &req.By, "decides") {
		return
	}
	a, err := s.sup.DecideApproval(r.Context(), r.PathValue("id"), req.Decision, req.By)
	if err != nil {
		writeStoreError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

// StatusOf maps an operation's error to HTTP: unknown 404, already decided
// 409, expired 410, invalid input 400; anything else (the store failed) is
// warden's fault, 500.
func StatusOf(err error) int {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, store.ErrDecided):
		return http.StatusConflict
	case errors.Is(err, store.ErrExpired):
		return http.StatusGone
	case errors.Is(err, supervisor.ErrInvalid):
		return http.StatusBadRequest
	default:
		return http.StatusInternalServerError
	}
}

// writeStoreError answers with an operation's error, its status as statusOf
// says.
func writeStoreError(w http.ResponseWriter, err error) {
	writeJSON(w, StatusOf(err), apiError{err.Error()})
}

func (s *server) adminKillSession(w http.ResponseWriter, r *http.Request) {
	var req reasonRequest
	if !readReason(w, r, &req) {
		return
	}
	if req.Reason == "" {
		req.Reason = "killed by " + req.By
	}
	if err := s.sup.KillSession(r.Context(), r.PathValue("id"), req.Reason, req.By); err != nil {
		writeStoreError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"killed": true})
}

func (s *server) adminKillAgent(w http.ResponseWriter, r *http.Request) {
	var req reasonRequest
	if !readReason(w, r, &req) {
		return
	}
	name := r.PathValue("name")
	if req.Reason == "" {
		req.Reason = "every session of " + name + " killed by " + req.By
	}
	n, err := s.sup.KillAgent(r.Context(), name, req.Reason, req.By)
	if errors.Is(err, store.ErrNotFound) {
		writeJSON(w, http.StatusNotFound, apiError{fmt.Sprintf("no agent %q", name)})
		return
	}
	if err != nil {
		writeStoreError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"killed": n})
}

func (s *server) adminAgents(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.sup.Agents())
}

func (s *server) adminSuspend(suspend bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req reasonRequest
		if !readReason(w, r, &req) {
			return
		}
		rec := store.AgentRecord{Name: r.PathValue("name"), Suspended: suspend, Reason: req.Reason, By: req.By}
		killed, err := s.sup.SetSuspended(r.Context(), rec, req.Kill)
		if err != nil {
			writeStoreError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"name": r.PathValue("name"), "suspended": suspend, "killed": killed})
	}
}

func (s *server) adminTools(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.sup.Tools())
}

func (s *server) adminAcceptTool(w http.ResponseWriter, r *http.Request) {
	var req reasonRequest
	if !readAttributed(w, r, &req, &req.By, "accepts") {
		return
	}
	if err := s.sup.AcceptTool(r.Context(), r.PathValue("name"), req.By); err != nil {
		writeStoreError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"name": r.PathValue("name"), "accepted": true})
}
