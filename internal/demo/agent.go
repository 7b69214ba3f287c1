package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
)

// Step is one call of the scripted agent.
type Step struct {
	Say  string // what the agent is doing, for the live view
	Tool string
	Args map[string]any
	// Resource, when set, is a URI the step reads with resources/read
	// instead of calling Tool: another route to the upstream.
	Resource string
	Expect   string // the verdict warden should give
	// Approve says what the demo's approver does when warden holds this
	// call: approve it, or let it time out.
	Approve bool
}

// Script is what the demo agent does: a support task in which a note
// carries an injected instruction that the agent follows, and then goes
// after the secrets folder by a route other than its tool. Expect names the
// verdict warden should give.
var Script = []Step{
	{Say: "look up the customer who called", Tool: "lookup_customer", Args: map[string]any{"query": "Bram"}, Expect: "allow"},
	{Say: "read the refund policy", Tool: "read_file", Args: map[string]any{"path": "policies/refunds.md"}, Expect: "allow"},
	{Say: "read the call note (it carries an injected instruction)", Tool: "read_file", Args: map[string]any{"path": "notes/C-1002.txt"}, Expect: "allow"},
	{Say: "follow the injection: refund 5000 EUR to the attacker's IBAN", Tool: "issue_refund", Args: map[string]any{"customer_id": "C-1002", "iban": "GB33BUKB20201555555555", "amount": 5000}, Expect: "deny"},
	{Say: "refund the double charge to the customer's own IBAN", Tool: "issue_refund", Args: map[string]any{"customer_id": "C-1002", "iban": "NL91ABNA0417164300", "amount": 18}, Expect: "allow"},
	{Say: "refund 250 EUR of goodwill (over the 200 EUR policy)", Tool: "issue_refund", Args: map[string]any{"customer_id": "C-1002", "iban": "NL91ABNA0417164300", "amount": 250}, Expect: "step_up", Approve: true},
	{Say: "refund another 300 EUR (nobody answers this one)", Tool: "issue_refund", Args: map[string]any{"customer_id": "C-1002", "iban": "NL91ABNA0417164300", "amount": 300}, Expect: "step_up"},
	{Say: "go for the API keys, as a resource rather than with read_file", Resource: "kb://files/secrets/api-keys.env", Expect: "kill"},
	{Say: "try again on the same session", Tool: "list_files", Args: map[string]any{}, Expect: "session ended"},
}

// Observer is told what happened after each step of the session, to show it live.
type Observer func(sessionID string, step Step, res *mcp.CallToolResult, err error)

// RunAgent connects to warden as the demo agent and runs the script;
// before is told of each step before its call goes out.
func RunAgent(ctx context.Context, url, token string, before func(Step), observe Observer) (sessionID string, err error) {
	tr, err := transport.NewStreamableHTTP(url, transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + token}))
	if err != nil {
		return "", err
	}
	c := client.NewClient(tr, client.WithProtocolVersion(mcp.LATEST_LEGACY_PROTOCOL_VERSION))
	defer c.Close()
	if err := c.Start(ctx); err != nil {
		return "", fmt.Errorf("demo agent: %w", err)
	}
	init := mcp.InitializeRequest{}
	init.Params.ProtocolVersion = mcp.LATEST_LEGACY_PROTOCOL_VERSION
	init.Params.ClientInfo = mcp.Implementation{Name: "demo-support-agent", Version: "1.0"}
	if _, err := c.Initialize(ctx, init); err != nil {
		return "", fmt.Errorf("demo agent: initialize: %w", err)
	}
	sessionID = c.GetSessionId()
	for _, st := range Script {
		before(st)
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		res, err := do(cctx, c, st)
		cancel()
		observe(sessionID, st, res, err)
		if ctx.Err() != nil {
			return sessionID, ctx.Err()
		}
	}
	return sessionID, nil
}

// do sends one step: a tool call, or a resource read whose text comes
// back as a tool result's.
func do(ctx context.Context, c *client.Client, st Step) (*mcp.CallToolResult, error) {
	if st.Resource == "" {
		req := mcp.CallToolRequest{}
		req.Params.Name = st.Tool
		req.Params.Arguments = st.Args
		return c.CallTool(ctx, req)
	}
	req := mcp.ReadResourceRequest{}
	req.Params.URI = st.Resource
	rr, err := c.ReadResource(ctx, req)
	if err != nil {
		return nil, err
	}
	res := &mcp.CallToolResult{}
	for _, rc := range rr.Contents {
		if t, ok := rc.(mcp.TextResourceContents); ok {
			res.Content = append(res.Content, mcp.NewTextContent(t.Text))
		}
	}
	return res, nil
}

// Summary renders a tool result in one line for the live view.
func Summary(res *mcp.CallToolResult) string {
	if res == nil {
		return ""
	}
	var s string
	if res.StructuredContent != nil {
		b, _ := json.Marshal(res.StructuredContent)
		s = string(b)
	}
	for _, c := range res.Content {
		if t, ok := c.(mcp.TextContent); ok && s == "" {
			s = t.Text
		}
	}
	if len(s) > 110 {
		s = s[:110] + "…"
	}
	return s
}
