package testkit

import (
	"context"
	"errors"
	"testing"

	"github.com/warden-dev/warden/internal/throwaway"
)

// HAProxy starts HAProxy in front of backends (host:port on loopback) for
// t, as throwaway.StartHAProxy does (round robin, no stickiness, each
// request balanced on its own), and returns the frontend's address
// (127.0.0.1:port); HAProxy is stopped at cleanup. It skips t only when
// HAProxy is not installed (.ci/run installs it).
func HAProxy(t testing.TB, backends ...string) string {
	t.Helper()
	h, err := throwaway.StartHAProxy(context.Background(), backends...)
	if errors.Is(err, throwaway.ErrMissing) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := h.Stop(); err != nil {
			t.Error(err)
		}
	})
	return h.Addr
}
