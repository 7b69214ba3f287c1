package supervisor

import (
	"context"
	"fmt"
	"io"

	"github.com/mark3labs/mcp-go/server"

	"github.com/warden-dev/warden/store"
)

// stdioSessionKey is the session id mcp-go gives the one stdio session;
// its history gets a random id of its own.
const stdioSessionKey = "stdio"

// ServeStdio serves one agent, named by the operator rather than by a
// token, over stdin and stdout until the client closes them or ctx ends.
func (s *Supervisor) ServeStdio(ctx context.Context, agent string, in io.Reader, out io.Writer) error {
	ag, ok := s.agents.byName(agent)
	if !ok {
		return fmt.Errorf("no agent named %q in the configuration", agent)
	}
	srv := server.NewStdioServer(s.mcp)
	// A held call must not stall the others (trap 12).
	server.WithWorkerPoolSize(64)(srv)
	srv.SetContextFunc(func(ctx context.Context) context.Context {
		return withIdentity(ctx, identity{agent: ag, remote: "stdio", userAgent: "stdio"})
	})
	err := srv.Listen(ctx, in, out)
	if sess := s.sessions.get(stdioSessionKey); sess != nil {
		s.endSession(context.WithoutCancel(ctx), sess, store.StateEnded, "stdio closed")
	}
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("stdio: %w", err)
	}
	return nil
}
