package console

import (
	"errors"
	"net/http"

	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
)

// statusOf maps an operation's error to HTTP as the admin API does:
// unknown 404, already decided 409, expired 410, invalid input 400, else
// warden's fault, 500.
func statusOf(err error) int {
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
