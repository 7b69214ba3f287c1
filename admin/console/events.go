package console

import (
	"fmt"
	"net/http"
	"time"
)

// events streams a line per change (server-sent events) to a signed-in
// browser, whose script then reloads the part of the page it shows. A
// stream ends after sseLimit (within the admin server's write timeout);
// the browser reconnects by itself.
func (c *console) events(w http.ResponseWriter, r *http.Request, _ login) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming is not supported here", http.StatusInternalServerError)
		return
	}
	changes, cancel := c.held.subscribe()
	defer cancel()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	// The first event tells the page it is connected; tests wait for it.
	fmt.Fprint(w, "retry: 2000\nevent: ready\ndata: ready\n\n")
	flusher.Flush()
	limit := time.NewTimer(c.sseLimit)
	defer limit.Stop()
	for {
		select {
		case typ := <-changes:
			// A login that ended (sign-out, expiry, a rotated shared
			// token) hears nothing more on a stream it opened before.
			if _, _, ok := c.current(r); !ok {
				return
			}
			if _, err := fmt.Fprintf(w, "event: change\ndata: %s\n\n", typ); err != nil {
				return
			}
			flusher.Flush()
		case <-r.Context().Done():
			return
		case <-c.held.closed:
			return
		case <-limit.C:
			return
		}
	}
}
