package main

import (
	"context"

	"github.com/charmbracelet/log"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/warden-dev/warden/config"
	"github.com/warden-dev/warden/tracing"
)

// traces is the tracer provider of the tracing section; zero when tracing
// is off.
type traces struct{ tp *sdktrace.TracerProvider }

// tracesOf starts exporting traces where the tracing section says.
func tracesOf(cfg *config.Config, logger *log.Logger) (traces, error) {
	t := cfg.Tracing
	if t == nil {
		return traces{}, nil
	}
	headers := make(map[string]string, len(t.Headers))
	for _, h := range t.Headers {
		headers[h.Name] = string(h.Value)
	}
	tp, err := tracing.New(context.Background(), tracing.Options{Endpoint: t.OTLPEndpoint, SampleRatio: t.SampleRatio, Headers: headers, Version: version})
	if err != nil {
		return traces{}, err
	}
	logger.Info("exporting traces", "otlp_endpoint", t.OTLPEndpoint, "sample_ratio", t.SampleRatio)
	return traces{tp: tp}, nil
}

// provider is what the supervisor makes spans with; nil when off (a nil
// *TracerProvider in the interface would not be).
func (t traces) provider() trace.TracerProvider {
	if t.tp == nil {
		return nil
	}
	return t.tp
}

// close exports what is pending, within ctx.
func (t traces) close(ctx context.Context) {
	if t.tp != nil {
		_ = t.tp.Shutdown(ctx)
	}
}
