package console

import (
	"sync"

	"github.com/warden-dev/warden/notify"
	"github.com/warden-dev/warden/store"
)

// heldCalls keeps what the webhook carried for each pending approval (the
// session's risk and signals, the intent, the arguments' provenance, the
// last calls), which the store does not keep, and tells the live streams
// that something changed.
type heldCalls struct {
	mu      sync.Mutex
	byID    map[string]notify.Message
	streams map[chan string]struct{}
	closed  chan struct{}
}

// maxHeld bounds the messages kept; past it the oldest pending calls show
// only what the store has.
const maxHeld = 10000

func newHeldCalls() *heldCalls {
	return &heldCalls{byID: map[string]notify.Message{}, streams: map[chan string]struct{}{}, closed: make(chan struct{})}
}

// heldCall is a pending approval and, when this process saw it requested,
// the webhook's message.
type heldCall struct {
	store.Approval
	Message *notify.Message
}

// observe is the supervisor's watcher: it must not block.
func (h *heldCalls) observe(m notify.Message) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if m.Approval != nil {
		switch m.Type {
		case notify.TypeApprovalRequested:
			if len(h.byID) < maxHeld {
				h.byID[m.Approval.ID] = m
			}
		case notify.TypeApprovalDecided:
			delete(h.byID, m.Approval.ID)
		}
	}
	for ch := range h.streams {
		select {
		case ch <- m.Type:
		default: // a change is already waiting to be sent: one refresh covers both
		}
	}
}

// of returns a pending approval with its message, if kept.
func (h *heldCalls) of(a store.Approval) heldCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	hc := heldCall{Approval: a}
	if m, ok := h.byID[a.ID]; ok {
		hc.Message = &m
	}
	return hc
}

// subscribe returns a channel that receives the type of each change, and
// its cancel.
func (h *heldCalls) subscribe() (<-chan string, func()) {
	ch := make(chan string, 1)
	h.mu.Lock()
	h.streams[ch] = struct{}{}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		delete(h.streams, ch)
		h.mu.Unlock()
	}
}

// close ends the live streams.
func (h *heldCalls) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	select {
	case <-h.closed:
	default:
		close(h.closed)
	}
}
