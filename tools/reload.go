package tools

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
)

// upstreamSet is the upstreams in force, in configuration order, and by
// name. It is immutable; SetUpstreams publishes a new one.
type upstreamSet struct {
	list   []*upstream
	byName map[string]*upstream
}

func (s *upstreamSet) add(u *upstream) {
	s.list = append(s.list, u)
	s.byName[u.spec.Name] = u
}

// upstreams returns the upstreams in force.
func (h *Hub) upstreams() *upstreamSet { return h.set.Load() }

// checkSpecs validates specs and refuses a name given twice.
func checkSpecs(specs []Spec) error {
	seen := map[string]bool{}
	for _, s := range specs {
		if err := s.validate(); err != nil {
			return err
		}
		if seen[s.Name] {
			return fmt.Errorf("upstream %q is named twice", s.Name)
		}
		seen[s.Name] = true
	}
	return nil
}

// UpstreamChanges are the upstreams SetUpstreams added, replaced (their
// spec changed) and removed, by name.
type UpstreamChanges struct {
	Added, Replaced, Removed []string
}

// SetUpstreams replaces the upstreams while the hub runs (a configuration
// reload), all or nothing: an invalid spec changes nothing. An upstream
// whose spec is unchanged keeps its connection and its agents' upstream
// sessions. One removed, or replaced by a changed spec, is disconnected
// and its agents' upstream sessions closed; its tools leave the catalog,
// so calls to them are refused as unknown. Added and replaced upstreams
// connect in the background; SetUpstreams returns once each made its first
// attempt, or ctx ends. Their tools enter the catalog as a reconnecting
// upstream's do: against the names and definitions pinned before, so that
// a reload never accepts a changed tool silently.
func (h *Hub) SetUpstreams(ctx context.Context, specs []Spec) (UpstreamChanges, error) {
	var ch UpstreamChanges
	if err := checkSpecs(specs); err != nil {
		return ch, err
	}
	h.setMu.Lock()
	if h.runCtx.Err() != nil {
		h.setMu.Unlock()
		return ch, errors.New("set upstreams: the hub is closed")
	}
	old := h.upstreams()
	next := &upstreamSet{byName: map[string]*upstream{}}
	var fresh []*upstream
	for _, s := range specs {
		if u, ok := old.byName[s.Name]; ok && reflect.DeepEqual(u.spec, s) {
			next.add(u)
			continue
		}
		if _, ok := old.byName[s.Name]; ok {
			ch.Replaced = append(ch.Replaced, s.Name)
		} else {
			ch.Added = append(ch.Added, s.Name)
		}
		u := newUpstream(s, h)
		next.add(u)
		fresh = append(fresh, u)
	}
	var gone []*upstream
	for _, u := range old.list {
		if next.byName[u.spec.Name] != u {
			gone = append(gone, u)
			if _, kept := next.byName[u.spec.Name]; !kept {
				ch.Removed = append(ch.Removed, u.spec.Name)
			}
		}
	}
	h.set.Store(next)
	var first sync.WaitGroup
	if h.started.Load() {
		for _, u := range fresh {
			first.Add(1)
			h.wg.Go(func() { u.run(u.ctx, first.Done) })
		}
	}
	h.setMu.Unlock()
	for _, u := range gone {
		u.log.Info("upstream removed or replaced by a reload: disconnecting")
		u.stop()
		u.closeAll()
	}
	done := make(chan struct{})
	go func() { first.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	h.catalogChanged()
	return ch, nil
}
