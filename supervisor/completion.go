package supervisor

import (
	"context"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/yosida95/uritemplate/v3"

	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/workflows"
)

// completion/complete is a route to an upstream like prompts/get: the
// agent sends an argument's value and the upstream answers with what it
// holds (file paths, names). It is decided as the get of that prompt, or
// the read of the URI its template gives, with those arguments would be,
// so that rules written for the prompt or the resource apply to it; it is
// recorded as a completion, and its result judged and recorded. It takes
// no step: the session's state does not move.

// completer decides and forwards completion/complete for a prompt or a
// resource template.
type completer struct{ s *Supervisor }

// CompletePromptArgument completes an argument of a prompt.
func (c completer) CompletePromptArgument(ctx context.Context, name string, arg mcp.CompleteArgument, cctx mcp.CompleteContext) (*mcp.Completion, error) {
	p, _ := c.s.catalogFor(ctx).Prompt(name)
	r := route{kind: workflows.KindPrompt, event: store.KindCompletion, name: name, upstream: p.Upstream,
		args: completionArgs(arg, cctx)}
	return c.complete(ctx, r, mcp.PromptReference{Type: "ref/prompt", Name: name}, arg, cctx)
}

// CompleteResourceArgument completes an argument of a resource template,
// decided as a read of the URI the template gives with the arguments.
func (c completer) CompleteResourceArgument(ctx context.Context, uri string, arg mcp.CompleteArgument, cctx mcp.CompleteContext) (*mcp.Completion, error) {
	r := route{kind: workflows.KindResource, event: store.KindCompletion, name: uri, template: uri,
		args: completionArgs(arg, cctx)}
	for _, t := range c.s.catalogFor(ctx).Templates {
		if t.Def.URITemplate != nil && t.Def.URITemplate.Raw() == uri {
			r.upstream, r.name = t.Upstream, expandTemplate(t.Def.URITemplate.Template, r.args)
			break
		}
	}
	return c.complete(ctx, r, mcp.ResourceReference{Type: "ref/resource", URI: uri}, arg, cctx)
}

// complete takes r through the call path and forwards the request.
func (c completer) complete(ctx context.Context, r route, ref any, arg mcp.CompleteArgument, cctx mcp.CompleteContext) (*mcp.Completion, error) {
	req := mcp.CompleteRequest{}
	req.Params.Ref, req.Params.Argument, req.Params.Context = ref, arg, cctx
	var got *mcp.CompleteResult
	err := c.s.decideRoute(ctx, r, func(fctx context.Context) (*mcp.CallToolResult, int, error) {
		res, err := c.s.hub.Complete(fctx, c.s.whoFrom(fctx), r.upstream, req)
		if err != nil {
			return nil, 0, err
		}
		got = res
		return mcp.NewToolResultText(strings.Join(res.Completion.Values, "\n")), jsonSize(res), nil
	})
	if err != nil {
		return nil, err
	}
	return &got.Completion, nil
}

// completionArgs are the arguments a completion names: those already
// given (its context) and the one being completed.
func completionArgs(arg mcp.CompleteArgument, cctx mcp.CompleteContext) map[string]any {
	args := make(map[string]any, len(cctx.Arguments)+1)
	for k, v := range cctx.Arguments {
		args[k] = v
	}
	args[arg.Name] = arg.Value
	return args
}

// expandTemplate is the URI t gives with args; the template itself when
// it cannot be expanded, which patterns and rules then see.
func expandTemplate(t *uritemplate.Template, args map[string]any) string {
	vals := uritemplate.Values{}
	for k, v := range args {
		if s, ok := v.(string); ok {
			vals.Set(k, uritemplate.String(s))
		}
	}
	uri, err := t.Expand(vals)
	if err != nil {
		return t.Raw()
	}
	return uri
}
