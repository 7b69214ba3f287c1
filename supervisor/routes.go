package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/warden-dev/warden"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/tools"
	"github.com/warden-dev/warden/workflows"
)

// Every route to an upstream is decided, not only tools/call: a resource
// read and a prompt get go through the same path as a tool call (the
// agent's patterns, the workflow, the rules, the whole ladder, the
// durable record, result rules), as a call of their kind.

// route is a request other than tools/call that reaches an upstream.
type route struct {
	kind     string // workflows.KindResource or KindPrompt
	event    string // its record's kind: store.KindResourceRead, KindPromptGet or KindCompletion
	name     string // the resource's URI or the prompt's name
	template string // the URI template of a resource argument's completion
	upstream string // "" when no upstream offers it
	args     map[string]any
	meta     *mcp.Meta   // for progress while a step-up holds it, and the trace context
	header   http.Header // the agent's HTTP request's, for its trace context
}

// readResource decides and forwards resources/read of a resource or of a
// URI of a template that upstream offers.
func (s *Supervisor) readResource(upstream string) server.ResourceHandlerFunc {
	return func(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
		r := route{kind: workflows.KindResource, event: store.KindResourceRead, name: req.Params.URI,
			upstream: upstream, args: map[string]any{"uri": req.Params.URI}, meta: req.Params.Meta, header: req.Header}
		var got *mcp.ReadResourceResult
		err := s.decideRoute(ctx, r, func(fctx context.Context) (*mcp.CallToolResult, int, error) {
			res, err := s.hub.ReadResource(fctx, s.whoFrom(fctx), upstream, req)
			if err != nil {
				return nil, 0, err
			}
			got = res
			return resourceView(res), jsonSize(res), nil
		})
		if err != nil {
			return nil, err
		}
		return got.Contents, nil
	}
}

// getPrompt decides and forwards prompts/get.
func (s *Supervisor) getPrompt(ctx context.Context, req mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
	p, _ := s.catalogFor(ctx).Prompt(req.Params.Name)
	args := make(map[string]any, len(req.Params.Arguments))
	for k, v := range req.Params.Arguments {
		args[k] = v
	}
	r := route{kind: workflows.KindPrompt, event: store.KindPromptGet, name: req.Params.Name,
		upstream: p.Upstream, args: args, meta: req.Params.Meta, header: req.Header}
	var got *mcp.GetPromptResult
	err := s.decideRoute(ctx, r, func(fctx context.Context) (*mcp.CallToolResult, int, error) {
		res, err := s.hub.GetPrompt(fctx, s.whoFrom(fctx), req)
		if err != nil {
			return nil, 0, err
		}
		got = res
		return promptView(res), jsonSize(res), nil
	})
	if err != nil {
		return nil, err
	}
	return got, nil
}

// decideRoute takes r through the call path: visibility, rate limits, the
// decision and its record, the verdict (a step-up holds it for an
// approver, a kill ends the session), then fetch (which forwards it and
// returns the result as the policy sees it), the result's rules and
// record. A non-nil error is the refusal the agent gets.
func (s *Supervisor) decideRoute(ctx context.Context, r route, fetch relayFunc) error {
	sess := s.sessionFrom(ctx)
	if sess == nil {
		return errors.New("warden refused this request: the session is not known or was not recorded")
	}
	c := s.newRouteCall(sess, r)
	ctx, span := c.startCall(ctx, r.header)
	defer span.End()
	if reason := s.unavailable(sess.current(), r); reason != "" {
		// As for a hidden tool: refused, and the attempt is on record.
		c.refused(context.WithoutCancel(ctx), warden.Deny, reason)
		return errors.New("warden refused this request: " + reason)
	}
	d, res := c.admit(ctx)
	if res == nil {
		res = c.relay(ctx, d, fetch)
	}
	if res.IsError {
		// Not the upstream's answer: a refusal, a withheld result, a
		// failure to reach the upstream.
		return errors.New(allText(res))
	}
	return nil
}

// unavailable says why r is refused before any policy runs: the agent's
// patterns do not allow it, or its URI is not in plain form (checkURI).
// What the workflow does not name is the workflow's to answer, but for a
// completion: the prompt or template it completes must be one the agent
// may ever use (mayUse), as for listing.
func (s *Supervisor) unavailable(a *Agent, r route) string {
	if r.upstream == "" || !a.seesRoute(r.kind, r.upstream, r.name) || !s.mayComplete(a, r) {
		return fmt.Sprintf("%s %q is not available to agent %q", r.kind, r.name, a.Name)
	}
	if r.kind == workflows.KindResource {
		if err := checkURI(r.name); err != nil {
			return fmt.Sprintf("resource URI %q is refused: %v", r.name, err)
		}
	}
	return ""
}

// newRouteCall is the call that carries r through the call path.
func (s *Supervisor) newRouteCall(sess *session, r route) *call {
	args, err := json.Marshal(r.args)
	if err != nil {
		args = json.RawMessage(`null`)
	}
	c := &call{s: s, sess: sess, id: newID(), name: r.name, args: args, kind: r.event, pol: s.policyFor(sess.agent.Name)}
	c.req.Params.Name, c.req.Params.Arguments, c.req.Params.Meta = r.name, r.args, r.meta
	c.tool = tools.Tool{Upstream: r.upstream, Name: r.name, Def: mcp.Tool{Name: r.name}}
	c.wf = workflows.Call{Kind: r.kind, Tool: r.name, Args: r.args, Upstream: r.upstream, Provenance: c.provenance()}
	return c
}

// mayUse reports whether an agent may ever use a resource URI or a prompt
// of an upstream: its patterns allow it, and its workflow names it in some
// step (least privilege, as for tools). Listing, subscribing and
// completion go by this; each read, get and completion is decided on top.
func (s *Supervisor) mayUse(a *Agent, kind, upstream, name string) bool {
	return a.seesRoute(kind, upstream, name) && s.policyFor(a.Name).Workflow.Accepts(kind, name)
}

// mayUseTemplate is mayUse for a resource template: whether some URI of it
// could be read.
func (s *Supervisor) mayUseTemplate(a *Agent, upstream, template string) bool {
	return a.seesTemplate(upstream, template) && s.policyFor(a.Name).Workflow.AcceptsTemplate(template)
}

// mayComplete reports whether r, if it is a completion, completes a prompt
// or resource template the agent may use.
func (s *Supervisor) mayComplete(a *Agent, r route) bool {
	switch {
	case r.event != store.KindCompletion:
		return true
	case r.kind == workflows.KindResource:
		return s.mayUseTemplate(a, r.upstream, r.template)
	}
	return s.mayUse(a, r.kind, r.upstream, r.name)
}

// resourceUpstream finds the upstream that serves uri: the one that lists
// it, else the first whose template matches it (as mcp-go routes a read).
func resourceUpstream(cat *tools.Catalog, uri string) (string, bool) {
	if up, ok := cat.ResourceUpstream(uri); ok {
		return up, true
	}
	for _, t := range cat.Templates {
		if t.Def.URITemplate != nil && t.Def.URITemplate.Regexp().MatchString(uri) {
			return t.Upstream, true
		}
	}
	return "", false
}

// subscribeKind records a refused resources/subscribe.
const subscribeKind = "resource_subscribe"

// refuseSubscribe refuses resources/subscribe of a URI the agent may not
// read; it runs before mcp-go handles any request (the only hook that can
// refuse one), and lets every other request through.
func (s *Supervisor) refuseSubscribe(ctx context.Context, _ any, message any) error {
	raw, ok := message.(json.RawMessage)
	if !ok || !mayBeMethod(raw, string(mcp.MethodResourcesSubscribe)) {
		return nil
	}
	var req struct {
		Method string `json:"method"`
		Params struct {
			URI string `json:"uri"`
		} `json:"params"`
	}
	if json.Unmarshal(raw, &req) != nil || req.Method != string(mcp.MethodResourcesSubscribe) {
		return nil
	}
	sess := s.sessionFrom(ctx)
	if sess == nil {
		return errors.New("warden refused this subscription: the session is not known or was not recorded")
	}
	up, found := resourceUpstream(s.hub.CatalogFor(sess.id), req.Params.URI)
	if found && checkURI(req.Params.URI) == nil && s.mayUse(sess.current(), workflows.KindResource, up, req.Params.URI) {
		return nil
	}
	reason := fmt.Sprintf("resource %q is not available to agent %q", req.Params.URI, sess.agent.Name)
	c := s.newRouteCall(sess, route{kind: workflows.KindResource, event: subscribeKind, name: req.Params.URI, upstream: up,
		args: map[string]any{"uri": req.Params.URI}})
	c.refused(context.WithoutCancel(ctx), warden.Deny, reason)
	return errors.New("warden refused this subscription: " + reason)
}

// resourceView is a resource's contents as the policy and the record see
// them: its text contents, as a tool result's text.
func resourceView(res *mcp.ReadResourceResult) *mcp.CallToolResult {
	v := &mcp.CallToolResult{}
	for _, c := range res.Contents {
		if t, ok := c.(mcp.TextResourceContents); ok {
			v.Content = append(v.Content, mcp.NewTextContent(t.Text))
		}
	}
	return v
}

// promptView is a prompt's messages as the policy and the record see
// them: their contents, of which allText reads the text and the text of
// embedded resources.
func promptView(res *mcp.GetPromptResult) *mcp.CallToolResult {
	v := &mcp.CallToolResult{}
	for _, m := range res.Messages {
		v.Content = append(v.Content, m.Content)
	}
	return v
}

func jsonSize(v any) int {
	b, err := json.Marshal(v)
	if err != nil {
		return 0
	}
	return len(b)
}
