package supervisor

import (
	"context"
	"errors"
	"fmt"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/warden-dev/warden"
)

// unknownTool records a call to a tool that does not exist (a case
// variant, a zero-width character, another upstream's prefix) as a
// refused attempt, like a call to a hidden tool: probing for names is
// what an agent steered by an injection does. mcp-go answers such a call
// itself ("tool not found") before any handler runs; its error hook runs
// before that answer is written, so the attempt is on record first.
func (s *Supervisor) unknownTool(ctx context.Context, _ any, method mcp.MCPMethod, message any, err error) {
	if method != mcp.MethodToolsCall || !errors.Is(err, server.ErrToolNotFound) {
		return
	}
	req, ok := message.(*mcp.CallToolRequest)
	if !ok {
		return
	}
	sess := s.sessionFrom(ctx)
	if sess == nil {
		s.log.Warn("call to an unknown tool outside a recorded session", "tool", req.Params.Name)
		return
	}
	c := s.newCall(sess, *req)
	c.refused(context.WithoutCancel(ctx), warden.Deny, fmt.Sprintf("tool %q does not exist", req.Params.Name))
}
