package tools

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
)

// maxListPages bounds a paginated tools/list, against an upstream that
// never stops handing out cursors.
const maxListPages = 100

// listToolsRaw lists an upstream's tools keeping their schemas byte for
// byte. mcp-go's typed client drops every schema keyword it does not model
// ($schema, oneOf at the top level, ...); agents must see what the upstream
// declared, so the schemas travel as raw JSON.
func (u *upstream) listToolsRaw(ctx context.Context, cli *client.Client) ([]mcp.Tool, error) {
	var out []mcp.Tool
	var cursor string
	for page := 0; page < maxListPages; page++ {
		params := map[string]any{}
		if cursor != "" {
			params["cursor"] = cursor
		}
		resp, err := cli.GetTransport().SendRequest(ctx, transport.JSONRPCRequest{
			JSONRPC: mcp.JSONRPC_VERSION,
			ID:      mcp.NewRequestId(fmt.Sprintf("warden-tools-list-%d", u.hub.tokens.Add(1))),
			Method:  string(mcp.MethodToolsList),
			Params:  params,
		})
		if err != nil {
			return nil, err
		}
		if resp.Error != nil {
			return nil, resp.Error.AsError()
		}
		var res struct {
			Tools      []json.RawMessage `json:"tools"`
			NextCursor string            `json:"nextCursor"`
		}
		if err := json.Unmarshal(resp.Result, &res); err != nil {
			return nil, fmt.Errorf("tools/list result: %w", err)
		}
		for _, raw := range res.Tools {
			t, err := rawTool(raw)
			if err != nil {
				u.log.Warn("dropping an undecodable tool definition", "err", err)
				continue
			}
			out = append(out, t)
		}
		if res.NextCursor == "" || res.NextCursor == cursor {
			return out, nil
		}
		cursor = res.NextCursor
	}
	return out, fmt.Errorf("tools/list: more than %d pages", maxListPages)
}

// rawTool decodes one tool definition, keeping its schemas as they were.
func rawTool(raw json.RawMessage) (mcp.Tool, error) {
	var t mcp.Tool
	if err := json.Unmarshal(raw, &t); err != nil {
		return t, err
	}
	var schemas struct {
		Input  json.RawMessage `json:"inputSchema"`
		Output json.RawMessage `json:"outputSchema"`
	}
	if err := json.Unmarshal(raw, &schemas); err != nil {
		return t, err
	}
	if len(schemas.Input) > 0 && string(schemas.Input) != "null" {
		t.InputSchema, t.RawInputSchema = mcp.ToolInputSchema{}, schemas.Input
	}
	if len(schemas.Output) > 0 && string(schemas.Output) != "null" {
		t.OutputSchema, t.RawOutputSchema = mcp.ToolOutputSchema{}, schemas.Output
	}
	return t, nil
}
