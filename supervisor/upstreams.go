package supervisor

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"maps"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/tools"
)

// Each agent session has upstream sessions of its own (or of its agent),
// unless an upstream is shared: what a stateful upstream keeps for one
// agent is never another's. This file is the supervisor's side of that:
// whose request is whose, what each session sees, and the record of its
// upstream sessions.

// who names the session to the hub.
func (sess *session) who() tools.Session {
	return tools.Session{ID: sess.id, Agent: sess.agent.Name}
}

// whoFrom names the session of a request to the hub.
func (s *Supervisor) whoFrom(ctx context.Context) tools.Session {
	if sess := s.sessionFrom(ctx); sess != nil {
		return sess.who()
	}
	return tools.Session{}
}

// errSessionEnded refuses a request of a session that has ended.
var errSessionEnded = errors.New("the session ended")

// upstreamRequest runs fn, a request of the session to the hub outside
// any call (a subscription), on a context that the session's end cancels
// as it cancels its calls, before its upstream sessions are released: the
// hub opens no upstream session for a cancelled request, so none is
// opened for the session once they are. The request does not end with the
// agent's HTTP request.
func (sess *session) upstreamRequest(ctx context.Context, fn func(context.Context) error) error {
	ctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancel(nil)
	f, live := sess.track(cancel)
	if !live {
		return errSessionEnded
	}
	defer sess.untrack(f)
	return fn(ctx)
}

// catalogFor is what the session of ctx sees: the catalog, or its own view.
func (s *Supervisor) catalogFor(ctx context.Context) *tools.Catalog {
	if sess := s.sessionFrom(ctx); sess != nil {
		return s.hub.CatalogFor(sess.id)
	}
	return s.hub.Catalog()
}

// sessionByID finds a live session by its history id.
func (s *Supervisor) sessionByID(id string) *session {
	if sess := s.sessions.get(id); sess != nil && sess.id == id {
		return sess
	}
	if sess := s.sessions.get(stdioSessionKey); sess != nil && sess.id == id {
		return sess
	}
	return nil
}

// transport is the session's mcp-go session, known from its first request.
func (sess *session) transport() server.ClientSession {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	return sess.cs
}

// sessionView is what one session sees beyond the catalog: set when one of
// its own upstream sessions offers other than the catalog. Under syncMu.
type sessionView struct {
	changed map[string]toolChange // its tools that differ from their pins
	tools   [sha256.Size]byte     // fingerprints of what was published to it
	res     [sha256.Size]byte
	tpl     [sha256.Size]byte
}

// changedFor is the set of tools whose definition differs from its pin, as
// the session sees them.
func (s *Supervisor) changedFor(sess *session) map[string]toolChange {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	if v := sess.view; v != nil {
		return v.changed // replaced, never edited, under syncMu
	}
	return s.changedTools()
}

// publishView gives the session c, its own view (nil: the catalog again):
// the tools, resources and templates that its upstream sessions offer and
// the catalog does not (or defines otherwise) become the session's own in
// mcp-go, so that no other session lists or reaches them; what the
// catalog has and the view lacks is hidden by the list filters and refused
// on use, since calls look their tool up in the view. Its tools are checked
// against their pins like the catalog's. Over stdio there is one session,
// and its view is the catalog mirrored.
func (s *Supervisor) publishView(sess *session, c *tools.Catalog) {
	if sess.key == stdioSessionKey {
		if c == nil {
			c = s.hub.Catalog()
		}
		s.mirror(c)
		return
	}
	cs := sess.transport()
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	if c == nil {
		sess.view = nil
		c = s.hub.Catalog()
	} else {
		if sess.view == nil {
			sess.view = &sessionView{}
		}
		// A change the catalog has recorded is not recorded again.
		prev := maps.Clone(s.changedTools())
		if prev == nil {
			prev = map[string]toolChange{}
		}
		maps.Copy(prev, sess.view.changed)
		shared, own := splitOwn(c, s.hub.Catalog())
		changed := s.checkPins(context.Background(), shared, prev)
		s.checkOwnPins(context.Background(), sess, own, changed, prev)
		sess.view.changed = changed
	}
	if cs == nil {
		return
	}
	base := s.hub.Catalog()
	own := map[string]server.ServerTool{}
	for _, t := range c.Tools {
		if b, ok := base.Tool(t.Def.Name); ok && b.Upstream == t.Upstream && b.Hash == t.Hash {
			continue
		}
		own[t.Def.Name] = server.ServerTool{Tool: t.Def, Handler: s.callTool}
	}
	ownRes := map[string]server.ServerResource{}
	for _, r := range c.Resources {
		if up, ok := base.ResourceUpstream(r.Def.URI); ok && up == r.Upstream {
			continue
		}
		ownRes[r.Def.URI] = server.ServerResource{Resource: r.Def, Handler: s.readResource(r.Upstream)}
	}
	baseTpl := map[string]string{}
	for _, t := range base.Templates {
		if t.Def.URITemplate != nil {
			baseTpl[t.Def.URITemplate.Raw()] = t.Upstream
		}
	}
	ownTpl := map[string]server.ServerResourceTemplate{}
	for _, t := range c.Templates {
		if t.Def.URITemplate == nil || baseTpl[t.Def.URITemplate.Raw()] == t.Upstream {
			continue
		}
		ownTpl[t.Def.URITemplate.Raw()] = server.ServerResourceTemplate{Template: t.Def, Handler: server.ResourceTemplateHandlerFunc(s.readResource(t.Upstream))}
	}
	var was sessionView
	if sess.view != nil {
		was = *sess.view
	}
	now := sessionView{tools: fingerprint(c.Tools), res: fingerprint(c.Resources), tpl: fingerprint(c.Templates)}
	if st, ok := cs.(server.SessionWithTools); ok {
		st.SetSessionTools(own)
	}
	if sr, ok := cs.(server.SessionWithResources); ok {
		sr.SetSessionResources(ownRes)
	}
	if stp, ok := cs.(server.SessionWithResourceTemplates); ok {
		stp.SetSessionResourceTemplates(ownTpl)
	}
	if now.tools != was.tools {
		s.notifySession(sess, mcp.MethodNotificationToolsListChanged)
	}
	if now.res != was.res || now.tpl != was.tpl {
		s.notifySession(sess, mcp.MethodNotificationResourcesListChanged)
	}
	if sess.view != nil {
		sess.view.tools, sess.view.res, sess.view.tpl = now.tools, now.res, now.tpl
	}
}

// splitOwn splits the tools of a session's view: those the catalog has
// (by upstream and name), checked against the pins shared by all, and the
// session's own, which only its upstream sessions offer.
func splitOwn(c, base *tools.Catalog) (shared *tools.Catalog, own []tools.Tool) {
	held := map[string]bool{}
	for _, t := range base.Tools {
		held[t.Upstream+"/"+t.Name] = true
	}
	shared = &tools.Catalog{}
	for _, t := range c.Tools {
		if held[t.Upstream+"/"+t.Name] {
			shared.Tools = append(shared.Tools, t)
		} else {
			own = append(own, t)
		}
	}
	return shared, own
}

// checkOwnPins adds to changed the session's own tools whose definition
// differs from the one the session first saw, and records each change not
// in prev. Another session's upstream session offering a tool of the same
// name first decides nothing for this one. Called with syncMu held.
func (s *Supervisor) checkOwnPins(ctx context.Context, sess *session, own []tools.Tool, changed, prev map[string]toolChange) {
	if sess.ownPins == nil {
		sess.ownPins = map[string]string{}
	}
	for _, t := range own {
		key := t.Upstream + "/" + t.Name
		pinned, seen := sess.ownPins[key]
		if !seen {
			sess.ownPins[key] = t.Hash
		}
		if seen && pinned != t.Hash {
			changed[t.Def.Name] = toolChange{key: key, pinned: pinned, now: t.Hash}
			if was, ok := prev[t.Def.Name]; !ok || was.now != t.Hash {
				s.log.Warn("an upstream session changed a tool of its own; its calls step up", "session", sess.id, "upstream", t.Upstream, "tool", t.Name)
				data, _ := json.Marshal(map[string]any{"session": sess.id, "pinned": pinned, "now": t.Hash, "definition": t.Def})
				_, err := s.store.Append(ctx, store.SystemLog, store.Event{Kind: store.KindToolChanged, Upstream: t.Upstream, Tool: t.Name, Data: data,
					Reasons: []string{fmt.Sprintf("definition of %s, offered to session %s only, changed after that session first saw it", key, sess.id)}})
				if err != nil {
					s.log.Error("cannot record tool definition change", "tool", key, "err", err)
				}
			}
		}
		s.checkMoved(ctx, t, changed, prev)
	}
}

func (s *Supervisor) notifySession(sess *session, method mcp.MCPMethod) {
	if err := s.mcp.SendNotificationToSpecificClient(sess.key, string(method), nil); err != nil {
		s.log.Debug("list change not delivered", "session", sess.id, "method", method, "err", err)
	}
}

// recordUpstreamSession records on the agent session's chain that one of
// its upstream sessions opened or closed, and why.
func (s *Supervisor) recordUpstreamSession(id string, ev tools.UpstreamEvent) {
	data, err := json.Marshal(map[string]string{"action": ev.Action, "reason": ev.Reason, "sharing": string(ev.Sharing)})
	if err != nil {
		s.log.Error("cannot encode an upstream session event", "session", id, "err", err)
		return
	}
	_, err = s.store.Append(context.Background(), id, store.Event{Kind: store.KindUpstreamSession, Upstream: ev.Upstream, Data: data,
		Reasons: []string{fmt.Sprintf("upstream session with %s %s: %s", ev.Upstream, ev.Action, ev.Reason)}})
	if err != nil {
		s.log.Error("cannot record an upstream session event", "session", id, "upstream", ev.Upstream, "action", ev.Action, "err", err)
	}
}

// acceptOwnTool accepts the changed definition of a tool that only a
// live session's own upstream session offers: it becomes that session's
// pin (never the shared one, which another agent's upstream session must
// not decide), and the acceptance is recorded.
func (s *Supervisor) acceptOwnTool(ctx context.Context, exposed, by string) error {
	for _, sess := range s.sessions.all() {
		t, ok := s.hub.CatalogFor(sess.id).Tool(exposed)
		if !ok {
			continue
		}
		key := t.Upstream + "/" + t.Name
		s.syncMu.Lock()
		ch, changed := toolChange{}, false
		if v := sess.view; v != nil {
			ch, changed = v.changed[exposed]
		}
		if changed && ch.now == t.Hash {
			sess.ownPins[key] = t.Hash
			sess.view.changed = maps.Clone(sess.view.changed)
			delete(sess.view.changed, exposed)
		}
		s.syncMu.Unlock()
		if !changed {
			continue
		}
		_, err := s.store.Append(ctx, store.SystemLog, store.Event{
			Kind: store.KindToolAccepted, Upstream: t.Upstream, Tool: t.Name, Data: byData(by),
			Reasons: []string{fmt.Sprintf("definition of %s, offered to session %s only, accepted by %s", key, sess.id, by)},
		})
		if err != nil {
			return err
		}
		s.log.Info("tool definition accepted", "tool", key, "session", sess.id, "by", by)
		return nil
	}
	return fmt.Errorf("tool %q: %w", exposed, store.ErrNotFound)
}
