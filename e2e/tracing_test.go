package e2e

import (
	"context"
	"encoding/hex"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
	"github.com/warden-dev/warden/tools"
	"github.com/warden-dev/warden/tracing"
	"github.com/warden-dev/warden/workflows"
)

// Issue 10's proof: a trace collected by an in-test OTLP receiver follows a
// call from the agent's framework (its traceparent) through warden (the
// call, its decision, its durable writes, the upstream request) to the
// tool server, which sees warden's upstream span as its parent.

// traceWorkflow allows echo, holds an echo of "hold" for an approver and
// denies anything else.
const traceWorkflow = `
agent: tracer
purpose: echo things
on_violation: deny
start: [echo]
anytime: [echo]
steps:
  - name: echo
    tool: echo
    guard: "args.text != 'hold'"
    on_violation: step_up
    next: ["*"]
`

// spansOf returns the spans of trace id that r collected, by name.
func spansOf(r *testkit.OTLPReceiver, id trace.TraceID) map[string][]*tracepb.Span {
	out := map[string][]*tracepb.Span{}
	for _, s := range r.Spans() {
		if trace.TraceID(s.TraceId) == id {
			out[s.Name] = append(out[s.Name], s)
		}
	}
	return out
}

// seenContext is the trace context an upstream received with one call.
type seenContext struct{ header, meta string }

// tracedUpstream is an MCP server with an echo tool that records the
// traceparent each call brought, as an HTTP header and in _meta. It is
// served over Streamable HTTP, or the legacy SSE transport with sse.
func tracedUpstream(t *testing.T, sse bool) (spec tools.Spec, seen func() []seenContext) {
	t.Helper()
	var (
		mu  sync.Mutex
		got []seenContext
	)
	s := server.NewMCPServer("traced", "1.0.0", server.WithToolCapabilities(true))
	s.AddTool(mcp.NewTool("echo", mcp.WithString("text")), func(_ context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var sc seenContext
		sc.header = req.Header.Get("traceparent")
		if m := req.Params.Meta; m != nil {
			sc.meta, _ = m.AdditionalFields["traceparent"].(string)
		}
		mu.Lock()
		got = append(got, sc)
		mu.Unlock()
		return mcp.NewToolResultText(req.GetString("text", "")), nil
	})
	s.AddTool(mcp.NewTool("wipe"), func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return mcp.NewToolResultText("wiped"), nil
	})
	spec = tools.Spec{Name: "traced", URL: serveUpstream(t, s)}
	if sse {
		spec = tools.Spec{Name: "traced", URL: serveHTTP(t, server.NewSSEServer(s)) + "/sse", SSE: true}
	}
	return spec, func() []seenContext {
		mu.Lock()
		defer mu.Unlock()
		return append([]seenContext(nil), got...)
	}
}

// agentParentKey holds the span of the agent's framework that a call belongs to.
type agentParentKey struct{}

// startTracedWarden runs warden for the tracer agent with tp (nil: tracing
// off) and returns it with an agent client that sends the traceparent of
// the span context its call's context carries (agentParentKey).
func startTracedWarden(t *testing.T, up tools.Spec, tp trace.TracerProvider) (*wardenUnderTest, func(ctx context.Context, name, text string, meta map[string]any) *mcp.CallToolResult) {
	t.Helper()
	wf, err := workflows.Parse("tracer.yaml", []byte(traceWorkflow))
	if err != nil {
		t.Fatal(err)
	}
	const token = "tracer-token"
	w := startWarden(t, []tools.Spec{up},
		[]supervisor.Agent{{Name: "tracer", TokenSHA256: hashToken(token)}},
		func(o *supervisor.Options) {
			o.Policies = map[string]*supervisor.Policy{"tracer": {Workflow: wf}}
			o.Tracer = tp
			o.Escalation.Approvals = true
			o.Escalation.ApprovalTimeout = 30 * time.Second
		})
	headers := transport.WithHTTPHeaderFunc(func(ctx context.Context) map[string]string {
		sc, ok := ctx.Value(agentParentKey{}).(trace.SpanContext)
		if !ok {
			return nil
		}
		c := propagation.MapCarrier{}
		propagation.TraceContext{}.Inject(trace.ContextWithSpanContext(ctx, sc), c)
		return c
	})
	c, err := testkit.Dial(w.URL, token, "e2e-agent", []transport.StreamableHTTPCOption{headers})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return w, func(ctx context.Context, name, text string, meta map[string]any) *mcp.CallToolResult {
		t.Helper()
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		req := mcp.CallToolRequest{}
		req.Params.Name = name
		req.Params.Arguments = map[string]any{"text": text}
		if meta != nil {
			req.Params.Meta = &mcp.Meta{AdditionalFields: meta}
		}
		res, err := c.CallTool(ctx, req)
		if err != nil {
			t.Fatalf("call %s: %v", name, err)
		}
		return res
	}
}

// agentSpan is a span context as an agent's framework would have it.
func agentSpan(t *testing.T, traceHex, spanHex string) trace.SpanContext {
	t.Helper()
	tid, err := trace.TraceIDFromHex(traceHex)
	if err != nil {
		t.Fatal(err)
	}
	sid, err := trace.SpanIDFromHex(spanHex)
	if err != nil {
		t.Fatal(err)
	}
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, Remote: true})
}

// one is the only span of name in spans.
func one(t *testing.T, spans map[string][]*tracepb.Span, name string) *tracepb.Span {
	t.Helper()
	if len(spans[name]) != 1 {
		t.Fatalf("%d %s spans, want 1 (spans: %v)", len(spans[name]), name, spans)
	}
	return spans[name][0]
}

// collectTraces is a tracer provider exporting to an in-test OTLP
// receiver on 127.0.0.1.
func collectTraces(t *testing.T) (*testkit.OTLPReceiver, *sdktrace.TracerProvider) {
	t.Helper()
	rcv := &testkit.OTLPReceiver{}
	tp, err := tracing.New(context.Background(), tracing.Options{Endpoint: serveHTTP(t, rcv), SampleRatio: 1, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return rcv, tp
}

func TestTracesFollowACallFromAgentToUpstream(t *testing.T) {
	for _, sse := range []bool{false, true} {
		name := "streamable http upstream"
		if sse {
			name = "sse upstream"
		}
		t.Run(name, func(t *testing.T) { followCall(t, sse) })
	}
}

// followCall is TestTracesFollowACallFromAgentToUpstream with an upstream
// over SSE or Streamable HTTP.
func followCall(t *testing.T, sse bool) {
	rcv, tp := collectTraces(t)
	up, seen := tracedUpstream(t, sse)
	_, call := startTracedWarden(t, up, tp)

	allowed := agentSpan(t, "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331")
	if res := call(context.WithValue(context.Background(), agentParentKey{}, allowed), "echo", "hello", nil); res.IsError {
		t.Fatalf("echo refused: %s", resultText(res))
	}
	denied := agentSpan(t, "1bf7651916cd43dd8448eb211c80319d", "c7ad6b7169203332")
	if res := call(context.WithValue(context.Background(), agentParentKey{}, denied), "wipe", "", nil); !res.IsError {
		t.Fatalf("wipe went through: %s", resultText(res))
	}
	// The MCP convention: the trace context in params._meta, no header.
	viaMeta := agentSpan(t, "2cf7651916cd43dd8448eb211c80319e", "d7ad6b7169203333")
	if res := call(context.Background(), "echo", "hello", map[string]any{"traceparent": "00-" + viaMeta.TraceID().String() + "-" + viaMeta.SpanID().String() + "-01"}); res.IsError {
		t.Fatalf("echo refused: %s", resultText(res))
	}
	if err := tp.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}

	ups := seen()
	if len(ups) != 2 {
		t.Fatalf("upstream saw %d calls, want 2", len(ups))
	}
	for i, parent := range []trace.SpanContext{allowed, viaMeta} {
		spans := spansOf(rcv, parent.TraceID())
		callSpan := one(t, spans, "warden.call")
		if hex.EncodeToString(callSpan.ParentSpanId) != parent.SpanID().String() {
			t.Errorf("warden.call's parent is %x, want the agent's span %s", callSpan.ParentSpanId, parent.SpanID())
		}
		if got := testkit.Attr(callSpan, "warden.verdict"); got != "allow" {
			t.Errorf("warden.call verdict %q, want allow", got)
		}
		if testkit.Attr(callSpan, "warden.agent") != "tracer" || testkit.Attr(callSpan, "warden.tool") != "echo" || testkit.Attr(callSpan, "warden.upstream") != "traced" {
			t.Errorf("warden.call attributes %v", callSpan.Attributes)
		}
		for _, name := range []string{"warden.decide", "warden.upstream", "warden.record"} {
			for _, s := range spans[name] {
				if string(s.ParentSpanId) != string(callSpan.SpanId) {
					t.Errorf("%s's parent is %x, want warden.call %x", name, s.ParentSpanId, callSpan.SpanId)
				}
			}
		}
		one(t, spans, "warden.decide")
		if n := len(spans["warden.record"]); n != 2 {
			t.Errorf("%d warden.record spans, want 2 (the call's event, the result's)", n)
		}
		up := one(t, spans, "warden.upstream")
		if up.Kind != tracepb.Span_SPAN_KIND_CLIENT {
			t.Errorf("warden.upstream kind %v, want client", up.Kind)
		}
		want := "00-" + parent.TraceID().String() + "-" + hex.EncodeToString(up.SpanId) + "-01"
		if ups[i].header != want || ups[i].meta != want {
			t.Errorf("upstream saw traceparent header %q and _meta %q, want %q (warden.upstream's)", ups[i].header, ups[i].meta, want)
		}
	}

	spans := spansOf(rcv, denied.TraceID())
	callSpan := one(t, spans, "warden.call")
	if got := testkit.Attr(callSpan, "warden.verdict"); got != "deny" {
		t.Errorf("denied call's verdict %q, want deny", got)
	}
	if len(spans["warden.upstream"]) != 0 {
		t.Errorf("a denied call has an upstream span")
	}
	one(t, spans, "warden.decide")
	one(t, spans, "warden.record")
}

func TestTracingOffAddsNothingUpstream(t *testing.T) {
	up, seen := tracedUpstream(t, false)
	_, call := startTracedWarden(t, up, nil)
	parent := agentSpan(t, "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331")
	ctx := context.WithValue(context.Background(), agentParentKey{}, parent)
	meta := map[string]any{"traceparent": "00-" + parent.TraceID().String() + "-" + parent.SpanID().String() + "-01"}
	if res := call(ctx, "echo", "hello", meta); res.IsError {
		t.Fatalf("echo refused: %s", resultText(res))
	}
	ups := seen()
	if len(ups) != 1 {
		t.Fatalf("upstream saw %d calls, want 1", len(ups))
	}
	if ups[0] != (seenContext{}) {
		t.Errorf("with tracing off the upstream saw a trace context: %+v", ups[0])
	}
}

// A held call's wait for its approver is a warden.hold span, and the
// approval's record is one more warden.record.
func TestTracesOfAHeldCall(t *testing.T) {
	rcv, tp := collectTraces(t)
	up, seen := tracedUpstream(t, false)
	w, call := startTracedWarden(t, up, tp)
	parent := agentSpan(t, "3df7651916cd43dd8448eb211c80319f", "e7ad6b7169203334")
	done := make(chan *mcp.CallToolResult, 1)
	go func() {
		done <- call(context.WithValue(context.Background(), agentParentKey{}, parent), "echo", "hold", nil)
	}()
	var held []store.Approval
	waitFor(t, 10*time.Second, "the call held for approval", func() bool {
		var err error
		held, err = w.Store.Approvals(t.Context(), store.ApprovalFilter{State: store.ApprovalPending})
		return err == nil && len(held) == 1
	})
	if _, err := w.Sup.DecideApproval(t.Context(), held[0].ID, store.DecisionOnce, "alice"); err != nil {
		t.Fatal(err)
	}
	if res := <-done; res.IsError {
		t.Fatalf("approved call refused: %s", resultText(res))
	}
	if err := tp.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := spansOf(rcv, parent.TraceID())
	callSpan := one(t, spans, "warden.call")
	if got := testkit.Attr(callSpan, "warden.verdict"); got != "step_up" {
		t.Errorf("held call's verdict %q, want step_up", got)
	}
	hold := one(t, spans, "warden.hold")
	upSpan := one(t, spans, "warden.upstream")
	for _, s := range []*tracepb.Span{hold, upSpan} {
		if string(s.ParentSpanId) != string(callSpan.SpanId) {
			t.Errorf("%s's parent is %x, want warden.call", s.Name, s.ParentSpanId)
		}
	}
	if hold.EndTimeUnixNano > upSpan.StartTimeUnixNano {
		t.Errorf("the upstream was called before the hold ended")
	}
	var kinds []string
	for _, r := range spans["warden.record"] {
		kinds = append(kinds, testkit.Attr(r, "warden.event"))
	}
	slices.Sort(kinds)
	if !slices.Equal(kinds, []string{"approval", "call", "result"}) {
		t.Errorf("records %v, want the call's, the approval's and the result's", kinds)
	}
	if len(seen()) != 1 {
		t.Errorf("upstream saw %d calls, want 1", len(seen()))
	}
}

// A resources/read takes the call path too, and is traced as one: a
// warden.call of kind resource_read with its decision, both records and
// the upstream request.
func TestTracesOfAResourceRead(t *testing.T) {
	rcv, tp := collectTraces(t)
	w := routesWarden(t, "", func(o *supervisor.Options) { o.Tracer = tp })
	parent := agentSpan(t, "4ef7651916cd43dd8448eb211c8031a0", "f7ad6b7169203335")
	fixed := transport.WithHTTPHeaderFunc(func(context.Context) map[string]string {
		return map[string]string{"traceparent": "00-" + parent.TraceID().String() + "-" + parent.SpanID().String() + "-01"}
	})
	c, err := testkit.Dial(w.URL, supportToken, "e2e-agent", []transport.StreamableHTTPCOption{fixed})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if text, err := readResource(t.Context(), c, "kb://files/"+policiesPath); err != nil || text == "" {
		t.Fatalf("read: %q, %v", text, err)
	}
	if err := tp.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := spansOf(rcv, parent.TraceID())
	callSpan := one(t, spans, "warden.call")
	if hex.EncodeToString(callSpan.ParentSpanId) != parent.SpanID().String() {
		t.Errorf("warden.call's parent is %x, want the agent's span", callSpan.ParentSpanId)
	}
	if k, v := testkit.Attr(callSpan, "warden.kind"), testkit.Attr(callSpan, "warden.verdict"); k != store.KindResourceRead || v != "allow" {
		t.Errorf("warden.call kind %q verdict %q, want resource_read allow", k, v)
	}
	one(t, spans, "warden.decide")
	one(t, spans, "warden.upstream")
	if n := len(spans["warden.record"]); n != 2 {
		t.Errorf("%d warden.record spans, want 2", n)
	}
}
