package supervisor

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"go.opentelemetry.io/otel/trace"

	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/tools"
	"github.com/warden-dev/warden/tracing"
)

// BenchmarkCallPath is one allowed tools/call through the supervisor
// (decision, both durable writes, the upstream over loopback HTTP) with
// tracing off and on: off must cost what the path cost before tracing.
// hop is the same call through a plain mcp-go server that forwards it
// with an mcp-go client, the floor for any proxy: what warden spends
// beyond it (allocations, bytes, CPU) is its own.
func BenchmarkCallPath(b *testing.B) {
	up := server.NewMCPServer("up", "1.0.0", server.WithToolCapabilities(true))
	up.AddTool(mcp.NewTool("echo"), func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return mcp.NewToolResultText("ok"), nil
	})
	upSrv := httptest.NewServer(server.NewStreamableHTTPServer(up, server.WithStreamableHTTPProtocolVersions(protocolVersions...)))
	b.Cleanup(upSrv.Close)
	b.Run("hop", func(b *testing.B) {
		front := httptest.NewServer(hopHandler(b, upSrv.URL))
		b.Cleanup(front.Close)
		benchCalls(b, dialBench(b, front.URL, ""))
	})
	for _, name := range []string{"off", "on"} {
		b.Run(name, func(b *testing.B) {
			var tp trace.TracerProvider
			if name == "on" {
				rcv := httptest.NewServer(&testkit.OTLPReceiver{})
				b.Cleanup(rcv.Close)
				p, err := tracing.New(context.Background(), tracing.Options{Endpoint: rcv.URL, SampleRatio: 1})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = p.Shutdown(context.Background()) })
				tp = p
			}
			sup, _ := startTestSupervisor(b, []tools.Spec{{Name: "up", URL: upSrv.URL}}, func(o *Options) { o.Tracer = tp })
			front := httptest.NewServer(sup.Handler())
			b.Cleanup(front.Close)
			benchCalls(b, dialBench(b, front.URL+"/mcp", testAgentToken))
		})
	}
}

// hopHandler is a plain mcp-go server whose echo forwards to upURL
// through one mcp-go client.
func hopHandler(b *testing.B, upURL string) *server.StreamableHTTPServer {
	b.Helper()
	upc := dialBench(b, upURL, "")
	hop := server.NewMCPServer("hop", "1.0.0", server.WithToolCapabilities(true))
	hop.AddTool(mcp.NewTool("echo"), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		out := mcp.CallToolRequest{}
		out.Params.Name = req.Params.Name
		out.Params.Arguments = req.Params.Arguments
		return upc.CallTool(ctx, out)
	})
	return server.NewStreamableHTTPServer(hop, server.WithStreamableHTTPProtocolVersions(protocolVersions...))
}

// dialBench is an initialized mcp-go client of url, with token as its
// bearer token unless empty.
func dialBench(b *testing.B, url, token string) *client.Client {
	b.Helper()
	var opts []transport.StreamableHTTPCOption
	if token != "" {
		opts = append(opts, transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + token}))
	}
	tr, err := transport.NewStreamableHTTP(url, opts...)
	if err != nil {
		b.Fatal(err)
	}
	c := client.NewClient(tr, client.WithProtocolVersion(mcp.LATEST_LEGACY_PROTOCOL_VERSION))
	b.Cleanup(func() { _ = c.Close() })
	if err := testkit.Start(c, "bench"); err != nil {
		b.Fatal(err)
	}
	return c
}

// benchCalls calls echo on c b.N times and reports allocations and the
// process's CPU per call.
func benchCalls(b *testing.B, c *client.Client) {
	b.Helper()
	req := mcp.CallToolRequest{}
	req.Params.Name = "echo"
	b.ReportAllocs()
	// CPU time, not wall time, is what a shared machine can compare:
	// the process's (agent, proxy and upstream together) per call.
	cpu0 := cpuTime()
	for b.Loop() {
		res, err := c.CallTool(context.Background(), req)
		if err != nil || res.IsError {
			b.Fatalf("echo: %v %+v", err, res)
		}
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
}
