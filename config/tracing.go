package config

import "github.com/goccy/go-yaml/ast"

// Tracing configures OpenTelemetry traces of the calls, exported over
// OTLP/HTTP; nil (no tracing section) is tracing off.
type Tracing struct {
	// OTLPEndpoint is the collector's base URL: https, or http to a
	// loopback address. Spans go to its /v1/traces.
	OTLPEndpoint string
	// SampleRatio is the share of new traces kept (0 to 1, default 1); a
	// trace the agent started keeps the agent's decision.
	SampleRatio float64
	// Headers are sent with each export; their values are read from the
	// environment variables headers_env names.
	Headers []ExportHeader
}

// tracing reads the tracing section.
func (d *decoder) tracing(n ast.Node) *Tracing {
	t := &Tracing{SampleRatio: 1}
	fields, ok := d.mapping(n, "tracing", "otlp_endpoint", "sample_ratio", "headers_env")
	if !ok {
		return t
	}
	given := false // a bad endpoint is reported as such, not as missing
	for _, f := range fields {
		if f.val == nil {
			continue
		}
		switch f.name {
		case "otlp_endpoint":
			t.OTLPEndpoint, given = d.exportURL(f.val, "tracing.otlp_endpoint"), true
		case "sample_ratio":
			if v, ok := d.number(f.val, "tracing.sample_ratio"); ok {
				if v < 0 || v > 1 {
					d.errorf(f.val, "tracing.sample_ratio must be between 0 and 1, got %g", v)
				}
				t.SampleRatio = v
			}
		case "headers_env":
			t.Headers = d.headersEnv(f.val, "tracing.headers_env")
		}
	}
	if !given {
		d.errorf(n, "tracing needs otlp_endpoint (an OTLP/HTTP collector's base URL, e.g. http://127.0.0.1:4318)")
	}
	return t
}
