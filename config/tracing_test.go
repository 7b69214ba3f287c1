package config

import (
	"fmt"
	"testing"
)

func TestParseTracing(t *testing.T) {
	env := func(k string) string {
		if k == "OTLP_AUTH" {
			return "Bearer otlp-secret"
		}
		return ""
	}
	tests := []struct {
		name string
		src  string
		want Tracing
	}{
		{"loopback with defaults", "tracing: {otlp_endpoint: \"http://127.0.0.1:4318\"}\n",
			Tracing{OTLPEndpoint: "http://127.0.0.1:4318", SampleRatio: 1}},
		{"https with ratio and headers", "tracing: {otlp_endpoint: \"https://otel.example\", sample_ratio: 0.25, headers_env: {Authorization: OTLP_AUTH}}\n",
			Tracing{OTLPEndpoint: "https://otel.example", SampleRatio: 0.25, Headers: []ExportHeader{{Name: "Authorization", Env: "OTLP_AUTH", Value: Secret("Bearer otlp-secret")}}}},
		{"ratio zero", "tracing: {otlp_endpoint: \"http://localhost:4318\", sample_ratio: 0}\n",
			Tracing{OTLPEndpoint: "http://localhost:4318"}},
	}
	show := func(tr Tracing) string {
		s := fmt.Sprintf("%+v", tr)
		for _, h := range tr.Headers {
			s += h.Name + "=" + string(h.Value) + ";"
		}
		return s
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse("/etc/warden/w.yaml", fix(minimal+tt.src), env)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Tracing == nil {
				t.Fatal("no tracing")
			}
			if got := show(*cfg.Tracing); got != show(tt.want) {
				t.Fatalf("tracing = %s\nwant %s", got, show(tt.want))
			}
		})
	}
	cfg, err := Parse("w.yaml", fix(minimal), noEnv)
	if err != nil || cfg.Tracing != nil {
		t.Fatalf("without the section: %+v, %v; want tracing off", cfg.Tracing, err)
	}
}

func TestParseTracingErrors(t *testing.T) {
	cases := []struct {
		name  string
		src   string
		wants []want
	}{
		{"no endpoint", "tracing: {sample_ratio: 1}\n", []want{{7, 10, "needs otlp_endpoint"}}},
		{"clear text", "tracing: {otlp_endpoint: \"http://otel.example:4318\"}\n", []want{{7, 26, "use https"}}},
		{"not a URL", "tracing: {otlp_endpoint: \"grpc://x\"}\n", []want{{7, 26, "is not an http(s) URL"}}},
		{"ratio above 1", "tracing: {otlp_endpoint: \"https://o.example\", sample_ratio: 2}\n", []want{{7, 61, "between 0 and 1"}}},
		{"unset header env", "tracing: {otlp_endpoint: \"https://o.example\", headers_env: {Authorization: NOPE}}\n", []want{{7, 76, "NOPE is not set"}}},
		{"unknown field", "tracing: {endpoint: x}\n", []want{{7, 10, "needs otlp_endpoint"}, {7, 11, `unknown field "endpoint"`}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { mustFail(t, fix(minimal+c.src), noEnv, c.wants...) })
	}
}
