package tools

import (
	"context"
	"encoding/json"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
)

// CatalogFor returns what the agent session id sees: the catalog, or, once
// one of its own upstream sessions said its lists changed, the catalog with
// that upstream session's offer in place of the upstream's. A tool an
// upstream adds for one session is in that session's view only.
func (h *Hub) CatalogFor(id string) *Catalog {
	if v, ok := h.views.Load(id); ok {
		return v.(*Catalog)
	}
	return h.Catalog()
}

// viewsChanged rebuilds the views of the agent sessions ids.
func (h *Hub) viewsChanged(ids []string) {
	h.catMu.Lock()
	defer h.catMu.Unlock()
	if h.runCtx.Err() != nil {
		return // a closing hub publishes nothing more
	}
	h.rebuildViews(ids)
}

// rebuildViews rebuilds the views of the agent sessions ids from the
// upstreams' offers and their own upstream sessions' offers, and hands
// each to the peer. A view names nothing that nobody holds: its names are
// read from the pins, never pinned (a tool one session sees must not take
// a name for everyone). Called with catMu held.
func (h *Hub) rebuildViews(ids []string) {
	for _, id := range ids {
		ups := h.upstreams().list
		srcs := make([]source, len(ups))
		own := false
		for i, u := range ups {
			srcs[i] = source{spec: u.spec, offer: u.snapshot()}
			if l := u.serving(id); l != nil {
				l.mu.Lock()
				// An upstream session that offers what the upstream's
				// own does (the upstream changed for everyone) needs no view.
				if l.offer != nil && !l.offer.same(srcs[i].offer) {
					srcs[i].offer, own = *l.offer, true
				}
				l.mu.Unlock()
			}
		}
		if !own {
			if _, had := h.views.LoadAndDelete(id); had {
				if h.peer != nil {
					h.peer.SessionCatalog(id, nil)
				}
			}
			continue
		}
		c, _ := buildCatalog(context.Background(), srcs, h.names, h.log)
		h.views.Store(id, c)
		if h.peer != nil {
			h.peer.SessionCatalog(id, c)
		}
	}
}

// Release ends what the agent session who holds upstream: its own upstream
// sessions close (HTTP DELETE, stdio child stopped), its agent's close once
// none of the agent's sessions is left, and its view is forgotten. The
// closing is recorded through the peer before Release returns; the
// transports end in the background.
func (h *Hub) Release(who Session, reason string) {
	for _, u := range h.upstreams().list {
		u.release(who, reason)
	}
	h.levels.Delete(who.ID)
	h.catMu.Lock()
	h.views.Delete(who.ID)
	h.catMu.Unlock()
}

// Resumed says that the agent session who was live when warden last
// stopped: the upstream sessions that served it then are gone with their
// state, and the ones opened for it now say so.
func (h *Hub) Resumed(who Session) {
	for _, u := range h.upstreams().list {
		if u.spec.sharing() == Shared {
			continue
		}
		key := u.ownerKey(who)
		u.mu.Lock()
		if _, open := u.links[key]; !open {
			u.gone[key] = "warden restarted, and the upstream session that served this agent session before ended with it"
		}
		u.mu.Unlock()
	}
}

// report hands an upstream session's opening or closing to the peer.
func (h *Hub) report(id string, ev UpstreamEvent) {
	if h.peer != nil && id != "" {
		h.peer.UpstreamSession(id, ev)
	}
}

// reapIdle closes agents' upstream sessions idle for longer than their
// upstream's IdleTimeout, until ctx ends.
func (h *Hub) reapIdle(ctx context.Context) {
	every := time.Minute
	for _, u := range h.upstreams().list {
		every = min(every, max(u.spec.idleTimeout()/4, 100*time.Millisecond))
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			for _, u := range h.upstreams().list {
				u.reap(now)
			}
		}
	}
}

// levelFor remembers the logging level an agent session asked for, so
// that upstream sessions opened for it later start at it.
func (h *Hub) levelFor(who Session, level mcp.LoggingLevel) { h.levels.Store(who.ID, level) }

// same reports whether two offers are the same.
func (o offer) same(p offer) bool {
	a, errA := json.Marshal([]any{o.tools, o.resources, o.templates, o.prompts})
	b, errB := json.Marshal([]any{p.tools, p.resources, p.templates, p.prompts})
	return errA == nil && errB == nil && string(a) == string(b)
}

// RootsChanged tells who's own upstream sessions that its roots changed,
// so that the upstreams ask it again. A shared upstream session has no
// one agent's roots to ask for.
func (h *Hub) RootsChanged(ctx context.Context, who Session) {
	for _, u := range h.upstreams().list {
		if u.spec.sharing() == Shared {
			continue
		}
		if l := u.serving(who.ID); l != nil {
			<-l.ready
			if l.err != nil {
				continue
			}
			if err := l.conn.cli.RootListChanges(ctx); err != nil {
				u.log.Debug("roots list_changed not delivered", "err", u.redact(err))
			}
		}
	}
}
