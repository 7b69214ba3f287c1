// Package tracing sets up OpenTelemetry traces for warden: a
// TracerProvider exporting OTLP/HTTP (protobuf) to a collector, and the
// W3C trace context read from an agent's request and written on an
// upstream's. Nothing here is global: the provider is passed to whoever
// makes spans, and with tracing off there is none.
package tracing

import (
	"context"
	"fmt"
	"net/url"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Options say where spans go and how many are kept.
type Options struct {
	// Endpoint is the collector's base URL (http://127.0.0.1:4318); spans
	// are POSTed to its /v1/traces.
	Endpoint string
	// SampleRatio is the share of new traces kept, 0 to 1. A trace the
	// agent started keeps the agent's sampling decision.
	SampleRatio float64
	// Headers are sent with each export (a collector's credential).
	Headers map[string]string
	// Version is warden's, as the service.version resource attribute.
	Version string
}

// New returns a provider exporting to o.Endpoint in batches. Shutdown
// flushes what is pending; the caller must call it.
func New(ctx context.Context, o Options) (*sdktrace.TracerProvider, error) {
	u, err := url.Parse(o.Endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("tracing: endpoint %q is not an http(s) URL", o.Endpoint)
	}
	if o.SampleRatio < 0 || o.SampleRatio > 1 {
		return nil, fmt.Errorf("tracing: sample ratio %g is not between 0 and 1", o.SampleRatio)
	}
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(u.JoinPath("v1", "traces").String())}
	if len(o.Headers) > 0 {
		opts = append(opts, otlptracehttp.WithHeaders(o.Headers))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	res := resource.NewSchemaless(attribute.String("service.name", "warden"), attribute.String("service.version", o.Version))
	return sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(o.SampleRatio))),
	), nil
}
