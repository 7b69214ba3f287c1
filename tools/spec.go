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
}

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
