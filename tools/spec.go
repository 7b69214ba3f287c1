// Package tools connects warden to the upstream MCP servers that hold the
// real tools. It keeps one supervised connection per upstream (restarting
// stdio children and re-initialising HTTP sessions), keeps the merged
// catalog of their tools, resources and prompts under the names agents see,
// and forwards requests with their progress and cancellation.
//
// It knows nothing of policy: whether a call may be forwarded is decided
// before Forward is called.
package tools

import (
	"fmt"
	"time"
)

// Spec describes one upstream MCP server. Exactly one of Command (stdio) or
// URL (Streamable HTTP, or legacy SSE when SSE is set) is used.
type Spec struct {
	Name string

	// stdio
	Command string
	Args    []string
	Env     []string // KEY=value, added to warden's own environment
	Dir     string

	// Streamable HTTP or legacy SSE
	URL     string
	Headers map[string]string
	SSE     bool

	// Prefix is prepended to this upstream's tool names as agents see them.
	Prefix string
	// CallTimeout bounds each forwarded request; zero means DefaultCallTimeout.
	CallTimeout time.Duration

	// Sharing says which agent sessions share an upstream session; ""
	// means the transport's default (see Sharing).
	Sharing Sharing
	// MaxSessions caps the upstream sessions (for stdio, processes) open
	// at once for agents; zero means the transport's default. A session
	// that would exceed it is refused with a clear error.
	MaxSessions int
	// IdleTimeout closes an agent's upstream session that carried no
	// request for this long; the next request opens a new one. Zero means
	// DefaultIdleTimeout.
	IdleTimeout time.Duration
	// Spare is how many fresh upstream sessions are kept opened ahead of
	// need, so that a new agent session does not wait for a process to
	// start; negative means none, zero the transport's default.
	Spare int
}

// Sharing is how agent sessions map to upstream sessions.
//
// Many MCP servers keep state per session (resources a tool registered, a
// browser's pages, a shell's directory, a logging level, subscriptions);
// whoever shares an upstream session shares that state.
type Sharing string

// The ways an upstream's sessions can be shared. The default is
// PerSession for HTTP and SSE upstreams, where a session costs one
// initialize, and PerAgent for stdio, where it costs a process: agents
// then never share state, and one agent's sessions share one process.
const (
	// PerSession gives every agent session its own upstream session.
	PerSession Sharing = "per_session"
	// PerAgent gives each agent one upstream session, shared by its sessions.
	PerAgent Sharing = "per_agent"
	// Shared multiplexes every agent over one upstream session: for
	// stateless servers only, since agents then share the server's state.
	Shared Sharing = "shared"
)

// DefaultIdleTimeout closes an agent's upstream session that carried no
// request for this long, when a Spec sets no IdleTimeout.
const DefaultIdleTimeout = 30 * time.Minute

// DefaultCallTimeout bounds a forwarded request when a Spec sets none.
const DefaultCallTimeout = 60 * time.Second

// transportName says how the upstream is reached, for logs and errors.
func (s Spec) transportName() string {
	switch {
	case s.Command != "":
		return "stdio"
	case s.SSE:
		return "sse"
	default:
		return "http"
	}
}

func (s Spec) validate() error {
	if s.Name == "" {
		return fmt.Errorf("upstream has no name")
	}
	switch s.Sharing {
	case "", PerSession, PerAgent, Shared:
	default:
		return fmt.Errorf("upstream %q: sharing %q is not one of %s, %s, %s", s.Name, s.Sharing, PerSession, PerAgent, Shared)
	}
	if (s.Command == "") == (s.URL == "") {
		return fmt.Errorf("upstream %q: set exactly one of command or url", s.Name)
	}
	return nil
}

func (s Spec) callTimeout() time.Duration {
	if s.CallTimeout > 0 {
		return s.CallTimeout
	}
	return DefaultCallTimeout
}

// sharing is the Sharing in force: the Spec's, or the transport's default.
func (s Spec) sharing() Sharing {
	switch {
	case s.Sharing != "":
		return s.Sharing
	case s.Command != "":
		return PerAgent // a session costs a process
	default:
		return PerSession
	}
}

// Default caps on agents' upstream sessions, by transport.
const (
	defaultMaxHTTP  = 256
	defaultMaxStdio = 16
)

func (s Spec) maxSessions() int {
	switch {
	case s.MaxSessions > 0:
		return s.MaxSessions
	case s.Command != "":
		return defaultMaxStdio
	default:
		return defaultMaxHTTP
	}
}

func (s Spec) idleTimeout() time.Duration {
	if s.IdleTimeout > 0 {
		return s.IdleTimeout
	}
	return DefaultIdleTimeout
}

// spares is how many fresh upstream sessions are kept ready: by default
// one for stdio, whose sessions are processes slow to start, none for HTTP.
func (s Spec) spares() int {
	switch {
	case s.Spare < 0:
		return 0
	case s.Spare > 0:
		return min(s.Spare, s.maxSessions()-1)
	case s.Command != "":
		return min(1, s.maxSessions()-1)
	default:
		return 0
	}
}
