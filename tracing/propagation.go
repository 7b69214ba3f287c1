package tracing

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// The W3C trace context's fields, as HTTP headers and as MCP _meta keys.
const (
	traceparent = "traceparent"
	tracestate  = "tracestate"
)

// Parent returns ctx carrying the span context the agent sent with its
// request: params._meta.traceparent (and tracestate) when it is a valid
// one, else the HTTP traceparent and tracestate headers. _meta wins
// because it is set for this one MCP request by the agent's MCP layer and
// is the only carrier over stdio, while an HTTP header may come from an
// instrumentation of the transport underneath. Neither valid: ctx as is.
func Parent(ctx context.Context, h http.Header, meta map[string]any) context.Context {
	tc := propagation.TraceContext{}
	if tp, ok := meta[traceparent].(string); ok {
		c := propagation.MapCarrier{traceparent: tp}
		if ts, ok := meta[tracestate].(string); ok {
			c[tracestate] = ts
		}
		if out := tc.Extract(ctx, c); trace.SpanContextFromContext(out).IsRemote() {
			return out
		}
	}
	if h != nil {
		return tc.Extract(ctx, propagation.HeaderCarrier(h))
	}
	return ctx
}

// Fields returns the trace context of ctx's span as traceparent (and
// tracestate) values to send on an upstream request, or nil when ctx has
// no valid span (tracing off: nothing is added).
func Fields(ctx context.Context) map[string]string {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return nil
	}
	c := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, c)
	return c
}
