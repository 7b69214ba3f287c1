package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/workflows"
)

// baselines holds the agents' baselines while warden runs and what each
// live session has done so far. An agent's baseline is loaded at its
// first call in this run (saved in the store, or learned from its last
// sessions in history) and moves only when one of its sessions ends:
// a session is compared with how the agent behaved before it.
type baselines struct {
	mu       sync.Mutex
	agents   map[string]*agentBaseline
	sessions map[string]*watched // by session id
}

type agentBaseline struct {
	mu sync.Mutex // serialises the load and the merges
	b  *Baseline  // nil until loaded
}

// watched is a live session against its agent's baseline.
type watched struct {
	mu     sync.Mutex
	obs    *observation
	recent []time.Time     // the session's calls of the last minute, refused ones too
	raised map[string]bool // signal name + key: each raised once per session
	base   *agentBaseline
}

func newBaselines() *baselines {
	return &baselines{agents: map[string]*agentBaseline{}, sessions: map[string]*watched{}}
}

// watch returns the session's record, made at its first call.
func (bs *baselines) watch(sess *session) *watched {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	w := bs.sessions[sess.id]
	if w == nil {
		ab := bs.agents[sess.agent.Name]
		if ab == nil {
			ab = &agentBaseline{}
			bs.agents[sess.agent.Name] = ab
		}
		w = &watched{obs: newObservation(sess.agent.Name), raised: map[string]bool{}, base: ab}
		bs.sessions[sess.id] = w
	}
	return w
}

// baseline returns the agent's baseline, loading it first if needed.
func (s *Supervisor) baseline(ctx context.Context, agent string, ab *agentBaseline) (*Baseline, error) {
	ab.mu.Lock()
	defer ab.mu.Unlock()
	if ab.b == nil {
		b, err := loadBaseline(ctx, s.store, agent)
		if err != nil {
			return nil, err
		}
		ab.b = b
	}
	return ab.b, nil
}

// SavedBaseline reads the agent's baseline as warden last saved it; the
// error wraps store.ErrNotFound when st has none.
func SavedBaseline(ctx context.Context, st store.Baselines, agent string) (*Baseline, error) {
	raw, err := st.Baseline(ctx, agent)
	if err != nil {
		return nil, err
	}
	b := newBaseline(agent)
	if err := json.Unmarshal(raw, b); err != nil {
		return nil, fmt.Errorf("baseline of %s: %w", agent, err)
	}
	return b, nil
}

// loadBaseline reads the agent's saved baseline, or learns one from its
// last sessions in history when none was saved.
func loadBaseline(ctx context.Context, st store.Store, agent string) (*Baseline, error) {
	if bs, ok := st.(store.Baselines); ok {
		b, err := SavedBaseline(ctx, bs, agent)
		if err == nil {
			return b, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	return LearnBaseline(ctx, storeHistory{st}, agent)
}

// storeHistory reads a store as BaselineHistory.
type storeHistory struct{ store.Store }

func (h storeHistory) Session(ctx context.Context, id string) (SessionView, error) {
	s, err := h.Store.Session(ctx, id)
	if err != nil {
		return SessionView{}, err
	}
	evs, err := h.Events(ctx, id)
	return SessionView{Session: s, Events: evs}, err
}

// baselineCall compares a call about to be decided with the agent's
// baseline and raises what it finds, before the decision, so that the
// session's risk counts it. A baseline that cannot be read gives no
// signal; the call is decided as it would be without baselines.
func (s *Supervisor) baselineCall(ctx context.Context, sess *session, tool string, args *ToolArgs) {
	w := s.baselines.watch(sess)
	b, err := s.baseline(ctx, sess.agent.Name, w.base)
	if err != nil {
		s.log.Error("cannot load the agent's baseline; no behaviour signals", "agent", sess.agent.Name, "err", err)
		return
	}
	now := time.Now()
	w.mu.Lock()
	count := slide(&w.recent, now)
	w.base.mu.Lock()
	found, learned := b.checkCall(tool, w.obs.prev, now, count), b.Sessions
	argFound, argsLearned := b.checkArgs(tool, args), b.ArgsSessions
	w.base.mu.Unlock()
	found, argFound = w.fresh(found), w.fresh(argFound)
	w.mu.Unlock()
	s.raiseFindings(ctx, sess, learned, found)
	s.raiseFindings(ctx, sess, argsLearned, argFound)
}

// baselineResult records a call of tool with args that went ahead with a
// result of size bytes, and compares the size with the baseline.
func (s *Supervisor) baselineResult(ctx context.Context, sess *session, tool string, args *ToolArgs, size int) {
	w := s.baselines.watch(sess)
	b, err := s.baseline(ctx, sess.agent.Name, w.base)
	if err != nil {
		return // baselineCall logged it
	}
	w.mu.Lock()
	w.obs.add(tool, args, time.Now(), size)
	w.base.mu.Lock()
	found, learned := b.checkResult(tool, size), b.Sessions
	w.base.mu.Unlock()
	found = w.fresh(found)
	w.mu.Unlock()
	s.raiseFindings(ctx, sess, learned, found)
}

// fresh drops what the session was already told of; w.mu is held.
func (w *watched) fresh(found []finding) []finding {
	out := found[:0]
	for _, f := range found {
		if k := f.name + "\x00" + f.key; !w.raised[k] {
			w.raised[k] = true
			out = append(out, f)
		}
	}
	return out
}

// raiseFindings raises each finding on the session. While the baseline
// is learning (it learned from fewer than LearningSessions sessions) they
// are recorded as flags that weigh nothing.
func (s *Supervisor) raiseFindings(ctx context.Context, sess *session, learned int, found []finding) {
	for _, f := range found {
		sig := workflows.Signal{Name: f.name, Weight: s.esc.weight(f.name), At: time.Now().UTC(), Evidence: f.evidence}
		verdict := ""
		if learned < LearningSessions {
			sig.Weight, verdict = 0, "flag"
			sig.Evidence = fmt.Sprintf("baseline learning (%d of %d sessions): %s", learned, LearningSessions, f.evidence)
		}
		if err := s.recordSignal(ctx, sess, sig, []string{sig.Evidence}, verdict, false, nil); err != nil {
			s.log.Error("cannot record a signal", "session", sess.id, "err", err)
		}
	}
}

// baselineEnd folds an ended session into its agent's baseline and saves
// it. A killed session is left out: it is not how the agent behaves.
func (s *Supervisor) baselineEnd(ctx context.Context, sess *session, state string) {
	s.baselines.mu.Lock()
	w := s.baselines.sessions[sess.id]
	delete(s.baselines.sessions, sess.id)
	s.baselines.mu.Unlock()
	if w == nil || state == store.StateKilled {
		return
	}
	w.mu.Lock()
	obs := w.obs
	w.mu.Unlock()
	if obs.Calls == 0 {
		return
	}
	b, err := s.baseline(ctx, sess.agent.Name, w.base)
	if err != nil {
		return
	}
	w.base.mu.Lock()
	b.merge(obs)
	raw, err := json.Marshal(b)
	w.base.mu.Unlock()
	if err != nil {
		s.log.Error("cannot encode the agent's baseline", "agent", sess.agent.Name, "err", err)
		return
	}
	if bs, ok := s.store.(store.Baselines); ok {
		if err := bs.SaveBaseline(ctx, sess.agent.Name, raw); err != nil {
			s.log.Error("cannot save the agent's baseline", "agent", sess.agent.Name, "err", err)
		}
	}
}
