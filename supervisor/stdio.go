package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/mark3labs/mcp-go/server"

	"github.com/warden-dev/warden/store"
)

// stdioSessionKey is the session id mcp-go gives the one stdio session;
// its history gets a random id of its own.
const stdioSessionKey = "stdio"

// ServeStdio serves one agent, named by the operator rather than by a
// token, over stdin and stdout until the client closes them, ctx ends,
// the agent is suspended or its session killed (the error says which). A
// suspended agent is not served at all.
func (s *Supervisor) ServeStdio(ctx context.Context, agent string, in io.Reader, out io.Writer) error {
	ag, ok := s.agents.Load().byName(agent)
	if !ok {
		return fmt.Errorf("no agent named %q in the configuration", agent)
	}
	lctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	gate := &gatedWriter{w: out}
	if !s.stdio.CompareAndSwap(nil, &stdioServing{agent: agent, out: gate, stop: stop}) {
		return errors.New("stdio: a client is already served")
	}
	defer s.stdio.Store(nil)
	// Checked once serving is registered, so that a suspension recorded
	// meanwhile is seen either here or by suspendStdio.
	if rec, suspended := s.suspension(agent); suspended {
		return fmt.Errorf("%w (by %s: %s); warden stdio serves it nothing", errSuspended, rec.By, rec.Reason)
	}
	srv := server.NewStdioServer(s.mcp)
	// A held call must not stall the others (trap 12).
	server.WithWorkerPoolSize(64)(srv)
	srv.SetContextFunc(func(ctx context.Context) context.Context {
		return withIdentity(ctx, identity{agent: ag, remote: "stdio", userAgent: "stdio"})
	})
	err := srv.Listen(lctx, in, gate)
	if sess := s.sessions.get(stdioSessionKey); sess != nil {
		s.endSession(context.WithoutCancel(ctx), sess, store.StateEnded, "stdio closed")
	}
	switch {
	case ctx.Err() != nil:
		return nil
	case lctx.Err() != nil:
		return fmt.Errorf("stdio: %w", context.Cause(lctx))
	case err != nil:
		return fmt.Errorf("stdio: %w", err)
	}
	return nil
}
