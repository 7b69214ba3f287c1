package supervisor

import (
	"context"
	"net/http"

	"github.com/mark3labs/mcp-go/mcp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/tracing"
)

// Spans of the call path (README, "Traces"): warden.call, with
// warden.decide, warden.record (each durable write), warden.hold (a
// step-up's wait) and warden.upstream as its children. They carry names
// and verdicts, never arguments, results or tokens.

// tracerName names warden's spans' instrumentation scope.
const tracerName = "github.com/warden-dev/warden/supervisor"

// startCall starts the call's span, a child of the trace context the
// agent sent (params._meta or HTTP headers). With tracing off it returns
// ctx untouched: the agent's trace context is not even read, so nothing
// of it reaches the upstream.
func (c *call) startCall(ctx context.Context, h http.Header) (context.Context, trace.Span) {
	if c.s.tracer == nil {
		return ctx, noop.Span{}
	}
	var meta map[string]any
	if m := c.req.Params.Meta; m != nil {
		meta = m.AdditionalFields
	}
	kind := c.kind
	if kind == "" {
		kind = store.KindCall
	}
	return c.s.tracer.Start(tracing.Parent(ctx, h, meta), "warden.call", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(
			attribute.String("warden.kind", kind),
			attribute.String("warden.agent", c.sess.agent.Name),
			attribute.String("warden.session", c.sess.id),
			attribute.String("warden.tool", c.name),
			attribute.String("warden.call_id", c.id),
		))
}

// span starts a child span of ctx's; a no-op when tracing is off.
func (s *Supervisor) span(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if s.tracer == nil {
		return ctx, noop.Span{}
	}
	return s.tracer.Start(ctx, name, opts...)
}

// traceRecord starts the span of one durable write of ev. The call's own
// event also gives the call's span its verdict.
func (c *call) traceRecord(ctx context.Context, ev store.Event) (context.Context, trace.Span) {
	if c.s.tracer == nil {
		return ctx, noop.Span{}
	}
	if ev.Kind != store.KindResult && ev.Kind != store.KindApproval {
		trace.SpanFromContext(ctx).SetAttributes(attribute.String("warden.verdict", ev.Verdict), attribute.String("warden.upstream", ev.Upstream))
	}
	return c.s.tracer.Start(ctx, "warden.record", trace.WithAttributes(
		attribute.String("warden.event", ev.Kind), attribute.String("warden.verdict", ev.Verdict)))
}

// endSpan ends span, marking it failed with err.
func endSpan(span trace.Span, err error) {
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// traceUpstream starts the client span of the upstream request; its
// context is what tools passes on to the upstream.
func (c *call) traceUpstream(ctx context.Context) (context.Context, trace.Span) {
	if c.s.tracer == nil { // before the options are built: they allocate
		// A span from the context would cost an allocation when ctx is a
		// WithoutCancel one (its Value boxes it); a no-op span does not.
		return ctx, noop.Span{}
	}
	return c.s.span(ctx, "warden.upstream", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		attribute.String("warden.upstream", c.tool.Upstream), attribute.String("warden.tool", c.name)))
}

// endUpstream ends the upstream span with how the upstream answered.
func endUpstream(span trace.Span, res *mcp.CallToolResult, err error) {
	if err == nil && res != nil && res.IsError {
		span.SetAttributes(attribute.Bool("warden.tool_error", true))
	}
	endSpan(span, err)
}
