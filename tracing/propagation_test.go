package tracing

import (
	"context"
	"net/http"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

func TestParent(t *testing.T) {
	const (
		fromHeader = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
		fromMeta   = "00-1bf7651916cd43dd8448eb211c80319d-c7ad6b7169203332-01"
	)
	header := http.Header{"Traceparent": {fromHeader}}
	tests := []struct {
		name   string
		header http.Header
		meta   map[string]any
		want   string // the parent's traceparent; "" for none
	}{
		{"header only", header, nil, fromHeader},
		{"meta only", nil, map[string]any{"traceparent": fromMeta}, fromMeta},
		{"meta wins over header", header, map[string]any{"traceparent": fromMeta}, fromMeta},
		{"invalid meta falls back to header", header, map[string]any{"traceparent": "00-zz-01"}, fromHeader},
		{"meta of another type is ignored", header, map[string]any{"traceparent": 42}, fromHeader},
		{"all-zero trace id is no parent", http.Header{"Traceparent": {"00-00000000000000000000000000000000-b7ad6b7169203331-01"}}, nil, ""},
		{"nothing", nil, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := Parent(context.Background(), tt.header, tt.meta)
			sc := trace.SpanContextFromContext(ctx)
			if tt.want == "" {
				if sc.IsValid() {
					t.Fatalf("parent %v, want none", sc)
				}
				return
			}
			// Fields writes what a child of ctx's span context would carry:
			// here the parent itself, since no span was started.
			if got := Fields(ctx)["traceparent"]; got != tt.want {
				t.Fatalf("parent %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFieldsWithoutSpan(t *testing.T) {
	if f := Fields(context.Background()); f != nil {
		t.Fatalf("a context without a span gave %v, want nothing to send", f)
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	tests := []struct {
		name string
		o    Options
	}{
		{"not a URL", Options{Endpoint: "127.0.0.1:4318", SampleRatio: 1}},
		{"grpc scheme", Options{Endpoint: "grpc://127.0.0.1:4317", SampleRatio: 1}},
		{"ratio above 1", Options{Endpoint: "http://127.0.0.1:4318", SampleRatio: 1.5}},
		{"negative ratio", Options{Endpoint: "http://127.0.0.1:4318", SampleRatio: -0.1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tp, err := New(context.Background(), tt.o); err == nil {
				_ = tp.Shutdown(context.Background())
				t.Fatal("accepted")
			}
		})
	}
}
