package supervisor

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"maps"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/tools"
	"github.com/warden-dev/warden/workflows"
)

// mirrorState remembers what was last published, so that an unchanged
// catalog sends no list_changed to agents.
type mirrorState struct {
	tools, resources, templates, prompts [sha256.Size]byte
	takeovers                            map[tools.Takeover]bool // refused takeovers already recorded
}

// mirror publishes the upstreams' catalog to agents and pins tool
// definitions: a definition that differs from its pin is recorded in the
// system log (a possible rug pull).
func (s *Supervisor) mirror(c *tools.Catalog) {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()

	s.pin(c)
	if fp := fingerprint(c.Tools); fp != s.mirrored.tools {
		st := make([]server.ServerTool, 0, len(c.Tools))
		for _, t := range c.Tools {
			st = append(st, server.ServerTool{Tool: t.Def, Handler: s.callTool})
		}
		s.mcp.SetTools(st...)
		s.mirrored.tools = fp
	}
	if fp := fingerprint(c.Resources); fp != s.mirrored.resources {
		sr := make([]server.ServerResource, 0, len(c.Resources))
		for _, r := range c.Resources {
			sr = append(sr, server.ServerResource{Resource: r.Def, Handler: s.readResource(r.Upstream)})
		}
		s.mcp.SetResources(sr...)
		s.mirrored.resources = fp
	}
	if fp := fingerprint(c.Templates); fp != s.mirrored.templates {
		st := make([]server.ServerResourceTemplate, 0, len(c.Templates))
		for _, t := range c.Templates {
			st = append(st, server.ServerResourceTemplate{Template: t.Def, Handler: server.ResourceTemplateHandlerFunc(s.readResource(t.Upstream))})
		}
		s.mcp.SetResourceTemplates(st...)
		s.mirrored.templates = fp
	}
	if fp := fingerprint(c.Prompts); fp != s.mirrored.prompts {
		sp := make([]server.ServerPrompt, 0, len(c.Prompts))
		for _, p := range c.Prompts {
			sp = append(sp, server.ServerPrompt{Prompt: p.Def, Handler: s.getPrompt})
		}
		s.mcp.SetPrompts(sp...)
		s.mirrored.prompts = fp
	}
}

// pin checks each tool definition against its pin. The first definition
// seen is pinned. A later one that differs is a possible rug pull (an
// upstream changing what a tool does after agents were approved to use
// it): it is recorded, and calls of that tool step up until an admin
// accepts the new definition (acceptTool).
func (s *Supervisor) pin(c *tools.Catalog) {
	ctx := context.Background()
	// A change a session's view has recorded is not recorded again.
	prev := maps.Clone(s.changedTools())
	if prev == nil {
		prev = map[string]toolChange{}
	}
	for _, sess := range s.sessions.all() {
		if sess.view != nil {
			maps.Copy(prev, sess.view.changed)
		}
	}
	changed := s.checkPins(ctx, c, prev)
	s.recordTakeovers(ctx, c)
	s.changed.Store(&changed)
}

// checkPins returns the tools of c whose definition or name differs from
// its pin, pinning those seen for the first time, and records each change
// not in prev (what the same catalog had changed before).
func (s *Supervisor) checkPins(ctx context.Context, c *tools.Catalog, prev map[string]toolChange) map[string]toolChange {
	changed := map[string]toolChange{}
	for _, t := range c.Tools {
		key := t.Upstream + "/" + t.Name
		pinned, err := s.store.Pinned(ctx, key)
		if err == nil && pinned == "" {
			_, err = s.store.Pin(ctx, key, t.Hash)
		}
		if err != nil {
			// Fail closed: a definition that cannot be checked is treated
			// as changed.
			s.log.Error("cannot pin tool definition", "tool", key, "err", err)
			changed[t.Def.Name] = toolChange{key: key, now: t.Hash}
			continue
		}
		if pinned == "" || pinned == t.Hash {
			continue
		}
		changed[t.Def.Name] = toolChange{key: key, pinned: pinned, now: t.Hash}
		if was, seen := prev[t.Def.Name]; seen && was.now == t.Hash {
			continue // already recorded
		}
		s.log.Warn("upstream changed a pinned tool definition; its calls step up until accepted", "upstream", t.Upstream, "tool", t.Name, "pinned", pinned[:12], "now", t.Hash[:12])
		data, _ := json.Marshal(map[string]any{"pinned": pinned, "now": t.Hash, "definition": t.Def})
		_, err = s.store.Append(ctx, store.SystemLog, store.Event{
			Kind: store.KindToolChanged, Upstream: t.Upstream, Tool: t.Name, Data: data,
			Reasons: []string{fmt.Sprintf("definition of %s changed after it was pinned", key)},
		})
		if err != nil {
			s.log.Error("cannot record tool definition change", "tool", key, "err", err)
		}
	}
	for _, t := range c.Tools {
		s.checkMoved(ctx, t, changed, prev)
	}
	return changed
}

// toolChange is a tool whose definition differs from its pin.
type toolChange struct {
	key         string // upstream/name
	pinned, now string // hashes; pinned is "" when it could not be read
	movedFrom   string // the name's pinned holder, when the name moved to key
}

func (s *Supervisor) changedTools() map[string]toolChange {
	if m := s.changed.Load(); m != nil {
		return *m
	}
	return nil
}

// acceptTool pins a tool's current definition, so its calls are decided
// as before; by is recorded.
func (s *Supervisor) acceptTool(ctx context.Context, exposed, by string) error {
	ctx = context.WithoutCancel(ctx) // the pin and its record go together, whatever the caller does
	t, ok := s.hub.Catalog().Tool(exposed)
	if !ok {
		// A tool that only a session's own upstream session offers: its
		// pin is that session's, and so is the acceptance.
		return s.acceptOwnTool(ctx, exposed, by)
	}
	key := t.Upstream + "/" + t.Name
	if _, err := s.store.Pin(ctx, key, t.Hash); err != nil {
		return err
	}
	if err := s.hub.AcceptName(ctx, exposed); err != nil {
		return err
	}
	_, err := s.store.Append(ctx, store.SystemLog, store.Event{
		Kind: store.KindToolAccepted, Upstream: t.Upstream, Tool: t.Name, Data: byData(by),
		Reasons: []string{fmt.Sprintf("definition of %s accepted by %s", key, by)},
	})
	if err != nil {
		return err
	}
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	next := maps.Clone(s.changedTools())
	delete(next, exposed)
	s.changed.Store(&next)
	for _, sess := range s.sessions.all() {
		if v := sess.view; v != nil {
			if ch, ok := v.changed[exposed]; ok && ch.now == t.Hash {
				v.changed = maps.Clone(v.changed)
				delete(v.changed, exposed)
			}
		}
	}
	s.log.Info("tool definition accepted", "tool", key, "by", by)
	return nil
}

func fingerprint(v any) [sha256.Size]byte {
	b, _ := json.Marshal(v)
	return sha256.Sum256(b)
}

// filterTools shows an agent only the tools it may call: those it may see
// and that its workflow can ever accept (least privilege). It edits the
// list result in place rather than being an mcp-go tool filter, because
// such a filter also refuses calls before warden sees them, and a call to a
// hidden tool is an attempt that belongs on record.
func (s *Supervisor) filterTools(ctx context.Context, _ any, _ *mcp.ListToolsRequest, res *mcp.ListToolsResult) {
	if res == nil {
		return
	}
	id, ok := identityFrom(ctx)
	cat := s.catalogFor(ctx)
	var wf interface{ Offers(string) bool }
	if ok {
		wf = s.policyFor(id.agent.Name).Workflow
	}
	out := res.Tools[:0]
	for _, def := range res.Tools {
		if t, found := cat.Tool(def.Name); ok && found && id.agent.sees(t) && wf.Offers(def.Name) {
			out = append(out, def)
		}
	}
	res.Tools = out
}

// filterPrompts, filterResources and filterTemplates show an agent only
// what it may use: its patterns allow it and its workflow names it
// (mayUse), as for tools. They are list hooks rather than mcp-go's
// prompt filter, which would also refuse a get before warden records it.
func (s *Supervisor) filterPrompts(ctx context.Context, _ any, _ *mcp.ListPromptsRequest, res *mcp.ListPromptsResult) {
	id, ok := identityFrom(ctx)
	if res == nil {
		return
	}
	cat := s.catalogFor(ctx)
	out := res.Prompts[:0]
	for _, def := range res.Prompts {
		if p, found := cat.Prompt(def.Name); ok && found && s.mayUse(id.agent, workflows.KindPrompt, p.Upstream, def.Name) {
			out = append(out, def)
		}
	}
	res.Prompts = out
}

// filterResources edits the list result in place: mcp-go has no resource
// filter, and its after-hook runs before the result is written.
func (s *Supervisor) filterResources(ctx context.Context, _ any, _ *mcp.ListResourcesRequest, res *mcp.ListResourcesResult) {
	id, ok := identityFrom(ctx)
	if res == nil {
		return
	}
	cat := s.catalogFor(ctx)
	out := res.Resources[:0]
	for _, r := range res.Resources {
		if up, found := cat.ResourceUpstream(r.URI); ok && found && s.mayUse(id.agent, workflows.KindResource, up, r.URI) {
			out = append(out, r)
		}
	}
	res.Resources = out
}

func (s *Supervisor) filterTemplates(ctx context.Context, _ any, _ *mcp.ListResourceTemplatesRequest, res *mcp.ListResourceTemplatesResult) {
	id, ok := identityFrom(ctx)
	if res == nil {
		return
	}
	ups := map[string]string{}
	for _, t := range s.catalogFor(ctx).Templates {
		if t.Def.URITemplate != nil {
			ups[t.Def.URITemplate.Raw()] = t.Upstream
		}
	}
	out := res.ResourceTemplates[:0]
	for _, t := range res.ResourceTemplates {
		if t.URITemplate == nil {
			continue
		}
		if up, found := ups[t.URITemplate.Raw()]; ok && found && s.mayUseTemplate(id.agent, up, t.URITemplate.Raw()) {
			out = append(out, t)
		}
	}
	res.ResourceTemplates = out
}
