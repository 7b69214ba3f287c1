package supervisor

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/tools"
)

// checkMoved treats a tool name that moved to another upstream's tool like
// a changed definition (a rug pull: the agent's calls of a name it was
// approved to use would reach another upstream): the move is recorded once
// and calls of the name step up until an admin accepts it (acceptTool).
// Called from checkPins, with syncMu held.
func (s *Supervisor) checkMoved(ctx context.Context, t tools.Tool, changed, prev map[string]toolChange) {
	if t.MovedFrom == "" {
		return
	}
	holder := t.Upstream + "/" + t.Name
	ch := toolChange{key: holder, now: t.Hash, movedFrom: t.MovedFrom}
	changed[t.Def.Name] = ch
	if was, seen := prev[t.Def.Name]; seen && was == ch {
		return // already recorded
	}
	s.log.Warn("a tool name moved to another upstream; its calls step up until accepted", "name", t.Def.Name, "from", t.MovedFrom, "to", holder)
	data, _ := json.Marshal(map[string]any{"name": t.Def.Name, "moved_from": t.MovedFrom, "now": holder, "definition": t.Def})
	_, err := s.store.Append(ctx, store.SystemLog, store.Event{
		Kind: store.KindToolChanged, Upstream: t.Upstream, Tool: t.Name, Data: data,
		Reasons: []string{fmt.Sprintf("the name %s moved from %s to %s after it was pinned", t.Def.Name, t.MovedFrom, holder)},
	})
	if err != nil {
		s.log.Error("cannot record a moved tool name", "name", t.Def.Name, "err", err)
	}
}

// recordTakeovers records, once per run, each upstream refused a tool name
// that another upstream's tool holds: the name stayed where it was, but an
// upstream that tries to take over a tool agents use is worth knowing of.
// Called from pin, with syncMu held.
func (s *Supervisor) recordTakeovers(ctx context.Context, c *tools.Catalog) {
	for _, to := range c.Takeovers {
		if s.mirrored.takeovers[to] {
			continue
		}
		s.log.Warn("an upstream offers a tool under a name another upstream holds; the name stays with its holder",
			"upstream", to.Upstream, "tool", to.Tool, "name", to.Name, "holder", to.Holder, "exposed_as", to.Exposed)
		data, _ := json.Marshal(to)
		_, err := s.store.Append(ctx, store.SystemLog, store.Event{
			Kind: store.KindToolChanged, Upstream: to.Upstream, Tool: to.Tool, Data: data,
			Reasons: []string{fmt.Sprintf("upstream %s offers %s, a name held by %s: the name stays with it, and %s's tool is exposed as %q",
				to.Upstream, to.Name, to.Holder, to.Upstream, to.Exposed)},
		})
		if err != nil {
			s.log.Error("cannot record a refused tool name takeover", "name", to.Name, "err", err)
			continue // recorded on a later catalog
		}
		if s.mirrored.takeovers == nil {
			s.mirrored.takeovers = map[tools.Takeover]bool{}
		}
		s.mirrored.takeovers[to] = true
	}
}

// stepUpReason says why calls of the tool exposed as name step up.
func (c toolChange) stepUpReason(name string) string {
	if c.movedFrom != "" {
		return fmt.Sprintf("the name %s moved from %s to %s; an admin has not accepted it", name, c.movedFrom, c.key)
	}
	return fmt.Sprintf("the definition of %s changed since it was pinned (%s…); an admin has not accepted it", c.key, shortHash(c.now))
}
