package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
	"github.com/warden-dev/warden/tools"
)

// agentPeer answers what upstreams ask of the agent, through warden.
type agentPeer struct {
	mu       sync.Mutex
	sampled  []string
	elicited int
}

func (p *agentPeer) CreateMessage(_ context.Context, req mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range req.Messages {
		if tc, ok := m.Content.(mcp.TextContent); ok {
			p.sampled = append(p.sampled, tc.Text)
		}
	}
	return &mcp.CreateMessageResult{
		SamplingMessage: mcp.SamplingMessage{Role: mcp.RoleAssistant, Content: mcp.NewTextContent("sampled-by-the-agent")},
		Model:           "test-model",
		StopReason:      "endTurn",
	}, nil
}

func (p *agentPeer) Elicit(context.Context, mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	p.mu.Lock()
	p.elicited++
	p.mu.Unlock()
	return &mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{Action: mcp.ElicitationResponseActionDecline}}, nil
}

// everythingUpstreams are the two ways warden reaches server-everything.
func everythingUpstreams(t *testing.T) map[string]tools.Spec {
	t.Helper()
	script := npmScript(t, "@modelcontextprotocol/server-everything", "dist/index.js")
	return map[string]tools.Spec{
		"stdio": {Name: "everything", Command: node22(t), Args: []string{script, "stdio"}},
		"http": {Name: "everything", URL: fmt.Sprintf("http://127.0.0.1:%d/mcp",
			startNodeHTTP(t, script, "streamableHttp"))},
	}
}

// TestEverythingPassthrough drives the reference server through warden
// over stdio and over Streamable HTTP with a real MCP client: tools,
// progress, sampling and elicitation relayed back to the agent, resources,
// prompts, completion and logging.
func TestEverythingPassthrough(t *testing.T) {
	for name, spec := range everythingUpstreams(t) {
		t.Run(name, func(t *testing.T) {
			w := startWarden(t, []tools.Spec{spec}, []supervisor.Agent{{Name: "a", TokenSHA256: hashToken("tok-everything")}})
			peer := &agentPeer{}
			c := connect(t, w.URL, "tok-everything", client.WithSamplingHandler(peer), client.WithElicitationHandler(peer))
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()

			// Conditional tools appear after warden's own session with the
			// upstream is initialised; list_changed resynchronises them.
			var names []string
			deadline := time.Now().Add(10 * time.Second)
			for {
				list, err := c.ListTools(ctx, mcp.ListToolsRequest{})
				if err != nil {
					t.Fatal(err)
				}
				names = names[:0]
				for _, tl := range list.Tools {
					names = append(names, tl.Name)
				}
				if slices.Contains(names, "trigger-sampling-request") || time.Now().After(deadline) {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			for _, want := range []string{"echo", "get-sum", "trigger-long-running-operation", "trigger-sampling-request", "trigger-elicitation-request"} {
				if !slices.Contains(names, want) {
					t.Fatalf("tool %q missing through warden; have %v", want, names)
				}
			}

			if got := resultText(callTool(t, c, "echo", map[string]any{"message": "through warden"})); !strings.Contains(got, "through warden") {
				t.Fatalf("echo = %q", got)
			}
			if got := resultText(callTool(t, c, "get-sum", map[string]any{"a": 2, "b": 40})); !strings.Contains(got, "42") {
				t.Fatalf("get-sum = %q", got)
			}

			// Progress: the agent's token comes back on every notification.
			var mu sync.Mutex
			var progress []float64
			c.OnNotification(func(n mcp.JSONRPCNotification) {
				if n.Method == string(mcp.MethodNotificationProgress) && n.Params.AdditionalFields["progressToken"] == "agent-token-7" {
					mu.Lock()
					progress = append(progress, n.Params.AdditionalFields["progress"].(float64))
					mu.Unlock()
				}
			})
			req := mcp.CallToolRequest{}
			req.Params.Name = "trigger-long-running-operation"
			req.Params.Arguments = map[string]any{"duration": 1, "steps": 4}
			req.Params.Meta = &mcp.Meta{ProgressToken: "agent-token-7"}
			if res, err := c.CallTool(ctx, req); err != nil || res.IsError {
				t.Fatalf("long-running operation: %v %+v", err, res)
			}
			mu.Lock()
			got := append([]float64(nil), progress...)
			mu.Unlock()
			if len(got) != 4 || got[3] != 4 {
				t.Fatalf("progress relayed = %v, want 1..4 with the agent's own token", got)
			}

			// Sampling: the upstream asks the client's model; warden relays
			// the request to this agent and its answer back.
			res := callTool(t, c, "trigger-sampling-request", map[string]any{"prompt": "ping-from-upstream", "maxTokens": 20})
			if !strings.Contains(resultText(res), "sampled-by-the-agent") {
				t.Fatalf("sampling result = %q", resultText(res))
			}
			res = callTool(t, c, "trigger-elicitation-request", map[string]any{})
			if !strings.Contains(resultText(res), "declined") {
				t.Fatalf("elicitation result = %q", resultText(res))
			}
			peer.mu.Lock()
			if len(peer.sampled) == 0 || !strings.Contains(strings.Join(peer.sampled, " "), "ping-from-upstream") || peer.elicited != 1 {
				t.Fatalf("agent saw sampling %v and %d elicitations", peer.sampled, peer.elicited)
			}
			peer.mu.Unlock()

			// Resources, templates, prompts, completion, logging, ping.
			rl, err := c.ListResources(ctx, mcp.ListResourcesRequest{})
			if err != nil || len(rl.Resources) == 0 {
				t.Fatalf("resources/list: %v (%d)", err, len(rl.Resources))
			}
			rr := mcp.ReadResourceRequest{}
			rr.Params.URI = rl.Resources[0].URI
			if rd, err := c.ReadResource(ctx, rr); err != nil || len(rd.Contents) == 0 {
				t.Fatalf("resources/read %s: %v", rr.Params.URI, err)
			}
			tl, err := c.ListResourceTemplates(ctx, mcp.ListResourceTemplatesRequest{})
			if err != nil || len(tl.ResourceTemplates) == 0 {
				t.Fatalf("resources/templates/list: %v", err)
			}
			pl, err := c.ListPrompts(ctx, mcp.ListPromptsRequest{})
			if err != nil || len(pl.Prompts) == 0 {
				t.Fatalf("prompts/list: %v", err)
			}
			var simple string
			for _, p := range pl.Prompts {
				if len(p.Arguments) == 0 {
					simple = p.Name
				}
			}
			gp := mcp.GetPromptRequest{}
			gp.Params.Name = simple
			if pr, err := c.GetPrompt(ctx, gp); err != nil || len(pr.Messages) == 0 {
				t.Fatalf("prompts/get %q: %v", simple, err)
			}
			lv := mcp.SetLevelRequest{}
			lv.Params.Level = mcp.LoggingLevelDebug
			if err := c.SetLevel(ctx, lv); err != nil {
				t.Fatalf("logging/setLevel: %v", err)
			}
			if err := c.Ping(ctx); err != nil {
				t.Fatalf("ping: %v", err)
			}

			// Every call, resource read and prompt above is on record,
			// chained, with the upstream session opened for them.
			rep, err := w.Store.Verify(ctx)
			if err != nil || len(rep.Broken) != 0 || rep.Events != 16 {
				t.Fatalf("history: %+v %v", rep, err)
			}
			sessions, _ := w.Store.Sessions(ctx, storeFilter("a"))
			evs, _ := w.Store.Events(ctx, sessions[0].ID)
			var reads []string
			for _, e := range evs {
				if e.Kind == store.KindResourceRead || e.Kind == store.KindPromptGet {
					reads = append(reads, e.Kind+":"+e.Verdict)
				}
			}
			if strings.Join(reads, " ") != "resource_read:allow prompt_get:allow" {
				t.Fatalf("reads on record = %v", reads)
			}
		})
	}
}
