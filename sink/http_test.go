package sink

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHTTPErrorsHideTheQuery: a token in the endpoint's query must not
// reach the log through a delivery error.
func TestHTTPErrorsHideTheQuery(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusInternalServerError)
	}))
	t.Cleanup(srv.Close)
	ln := httptest.NewServer(http.NotFoundHandler())
	refused := ln.URL
	ln.Close() // nothing listens there now
	tests := []struct {
		name, url, want string
	}{
		{"error status", srv.URL + "/in?token=SECRET", "500"},
		{"connection refused", refused + "/in?token=SECRET", "refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := HTTP(tt.url, nil).Deliver(t.Context(), []byte("{}\n"))
			if err == nil || strings.Contains(err.Error(), "SECRET") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Deliver = %v; want an error with %q and without the query", err, tt.want)
			}
		})
	}
}
