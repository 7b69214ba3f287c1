package tools

import (
	"context"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/warden-dev/warden/tracing"
)

// withTrace adds the trace context of ctx's span (warden's span of the
// upstream request) to meta as _meta.traceparent and tracestate, the MCP
// convention, which reaches stdio upstreams too. Without a span (tracing
// off) meta is returned as is.
func withTrace(ctx context.Context, meta *mcp.Meta) *mcp.Meta {
	f := tracing.Fields(ctx)
	if f == nil {
		return meta
	}
	if meta == nil {
		meta = &mcp.Meta{}
	}
	meta.AdditionalFields = make(map[string]any, len(f))
	for k, v := range f {
		meta.AdditionalFields[k] = v
	}
	return meta
}
