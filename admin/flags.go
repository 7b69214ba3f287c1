package admin

import (
	"fmt"
	"net/http"

	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
)

// reviewer is who a review through the admin API is recorded as: the one
// admin token is the only identity the API knows. (Named tokens, when
// they come, name the reviewer.)
const reviewer = "admin"

type reviewRequest struct {
	Note string `json:"note"`
}

func (s *server) adminFlags(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f, err := supervisor.ParseFilter(q.Get("agent"), "", q.Get("since"), "", q.Get("limit"))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{err.Error()})
		return
	}
	state := q.Get("state")
	switch state {
	case "", store.FlagOpen, store.FlagReviewed:
	default:
		writeJSON(w, http.StatusBadRequest, apiError{fmt.Sprintf("state: want %s or %s, got %q", store.FlagOpen, store.FlagReviewed, state)})
		return
	}
	list, err := s.store.Flags(r.Context(), store.FlagFilter{State: state, Agent: f.Agent, Since: f.Since, Limit: f.Limit})
	if err != nil {
		writeStoreError(w, err)
		return
	}
	if list == nil {
		list = []store.Flag{}
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *server) adminFlag(w http.ResponseWriter, r *http.Request) {
	f, err := s.store.Flag(r.Context(), r.PathValue("id"))
	if err != nil {
		writeStoreError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, f)
}

func (s *server) adminReviewFlag(w http.ResponseWriter, r *http.Request) {
	var req reviewRequest
	if err := readBody(r, &req); err != nil {
		badBody(w, err)
		return
	}
	if req.Note == "" {
		writeJSON(w, http.StatusBadRequest, apiError{`"note" is required: what the review found is recorded`})
		return
	}
	f, err := s.store.ReviewFlag(r.Context(), r.PathValue("id"), reviewer, req.Note)
	if err != nil {
		writeStoreError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, f)
}
