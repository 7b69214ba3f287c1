package supervisor

import (
	"sync"

	"github.com/warden-dev/warden/notify"
)

// watchers are the in-process listeners to what warden tells its
// notifier (the web console's live updates). The zero value is ready.
type watchers struct {
	mu   sync.Mutex
	next int
	fns  map[int]func(notify.Message)
}

// Types of the messages only watchers get (webhooks do not): a session
// started or ended, so that a live list of sessions can follow.
const (
	WatchSessionStarted = "session.started"
	WatchSessionEnded   = "session.ended"
)

// Watch calls fn with every message warden would send approvers and
// operators (an approval requested or decided, a call flagged, a session
// killed), and with a session's start and end (WatchSessionStarted,
// WatchSessionEnded), whether or not a notifier is configured, until stop
// is called.
// fn runs on the caller's path of the event: it must not block.
func (s *Supervisor) Watch(fn func(notify.Message)) (stop func()) {
	w := &s.watchers
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fns == nil {
		w.fns = map[int]func(notify.Message){}
	}
	id := w.next
	w.next++
	w.fns[id] = fn
	return func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		delete(w.fns, id)
	}
}

// send hands m to every watcher.
func (w *watchers) send(m notify.Message) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, fn := range w.fns {
		fn(m)
	}
}
