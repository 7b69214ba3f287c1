package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/warden-dev/warden"
	"github.com/warden-dev/warden/admin"
	"github.com/warden-dev/warden/examples"
	"github.com/warden-dev/warden/internal/demo"
	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
	"github.com/warden-dev/warden/tools"
	"github.com/warden-dev/warden/workflows"
)

// Every route to an upstream is decided, not only tools/call. The demo's
// support desk offers its knowledge base as a tool (read_file), as
// resources (kb://files/...) and through a prompt (summarize_file); a
// prompt-injected agent whose read_file of secrets/ kills the session
// tries the other two routes.

const (
	secretPath   = "secrets/api-keys.env"
	secretText   = "sk_live_demo_do_not_leak"
	readerToken  = "reader-token-0123456789"
	routesAdmin  = "routes-admin-token-0123456789"
	policiesPath = "policies/refunds.md"
)

// routesWarden is warden in front of the demo upstream, with the
// support-bot agent on the example workflow (or wf), and a reader agent
// whose tools are restricted and that has no workflow.
func routesWarden(t *testing.T, wf string, tweak ...func(*supervisor.Options)) *wardenUnderTest {
	t.Helper()
	src := examples.SupportWorkflow
	if wf != "" {
		src = []byte(wf)
	}
	w, err := workflows.Parse("support.yaml", src)
	if err != nil {
		t.Fatal(err)
	}
	opts := append([]func(*supervisor.Options){func(o *supervisor.Options) {
		o.Policies = map[string]*supervisor.Policy{"support-bot": {Workflow: w}}
	}}, tweak...)
	return startWarden(t, []tools.Spec{{Name: "desk", URL: serveUpstream(t, demo.NewUpstream().Server())}},
		[]supervisor.Agent{
			{Name: "support-bot", TokenSHA256: hashToken(supportToken)},
			{Name: "reader", TokenSHA256: hashToken(readerToken), Tools: []string{"read_*", "list_*"}},
		}, opts...)
}

// routesAdminOf serves w's admin API for routesAdmin.
func routesAdminOf(t *testing.T, w *wardenUnderTest) testkit.Admin {
	t.Helper()
	ah, err := admin.Handler(w.Sup, hashToken(routesAdmin))
	if err != nil {
		t.Fatal(err)
	}
	return testkit.Admin{Base: serveHTTP(t, ah), Token: routesAdmin}
}

// attempt is one way to reach the secrets file; it returns what the
// agent got back (text, or the error's message).
type attempt struct {
	name string
	try  func(ctx context.Context, c *client.Client) (string, error)
	kind string // the kind of its record
}

var secretRoutes = []attempt{
	{"tools/call read_file", func(ctx context.Context, c *client.Client) (string, error) {
		req := mcp.CallToolRequest{}
		req.Params.Name, req.Params.Arguments = "read_file", map[string]any{"path": secretPath}
		res, err := c.CallTool(ctx, req)
		if err != nil {
			return "", err
		}
		if res.IsError {
			return "", errors.New(resultText(res))
		}
		return resultText(res), nil
	}, store.KindCall},
	{"resources/read kb://files/secrets", func(ctx context.Context, c *client.Client) (string, error) {
		return readResource(ctx, c, "kb://files/"+secretPath)
	}, store.KindResourceRead},
	{"prompts/get summarize_file", func(ctx context.Context, c *client.Client) (string, error) {
		return getPrompt(ctx, c, "summarize_file", map[string]string{"path": secretPath})
	}, store.KindPromptGet},
}

func readResource(ctx context.Context, c *client.Client, uri string) (string, error) {
	req := mcp.ReadResourceRequest{}
	req.Params.URI = uri
	res, err := c.ReadResource(ctx, req)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, rc := range res.Contents {
		if tc, ok := rc.(mcp.TextResourceContents); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String(), nil
}

func getPrompt(ctx context.Context, c *client.Client, name string, args map[string]string) (string, error) {
	req := mcp.GetPromptRequest{}
	req.Params.Name, req.Params.Arguments = name, args
	res, err := c.GetPrompt(ctx, req)
	if err != nil {
		return "", err
	}
	b, _ := json.Marshal(res.Messages)
	return string(b), nil
}

// checkListed checks how many resources, templates and prompts the
// session is shown.
func checkListed(ctx context.Context, t *testing.T, c *client.Client, resources, templates, prompts int) {
	t.Helper()
	rl, err := c.ListResources(ctx, mcp.ListResourcesRequest{})
	if err != nil || len(rl.Resources) != resources {
		t.Errorf("resources/list: %v, %d resources; want %d", err, len(rl.Resources), resources)
	}
	tl, err := c.ListResourceTemplates(ctx, mcp.ListResourceTemplatesRequest{})
	if err != nil || len(tl.ResourceTemplates) != templates {
		t.Errorf("resources/templates/list: %v, %d templates; want %d", err, len(tl.ResourceTemplates), templates)
	}
	pl, err := c.ListPrompts(ctx, mcp.ListPromptsRequest{})
	if err != nil || len(pl.Prompts) != prompts {
		t.Errorf("prompts/list: %v, %d prompts; want %d", err, len(pl.Prompts), prompts)
	}
}

// verdictOf is the session's first event of this kind whose name (tool,
// URI or prompt) or arguments contain name; the test fails if there is none.
func verdictOf(t *testing.T, w *wardenUnderTest, sid, kind, name string) store.Event {
	t.Helper()
	evs, err := w.Store.Events(t.Context(), sid)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.Kind == kind && strings.Contains(e.Tool+" "+string(e.Args), name) {
			return e
		}
	}
	t.Fatalf("no %s event for %q in session %s", kind, name, sid)
	return store.Event{}
}

// Each route to the secrets folder kills the session, as read_file does:
// the agent gets no secret, the kill is on record, and the session's
// next request fails.
func TestSecretsByEveryRouteKillTheSession(t *testing.T) {
	w := routesWarden(t, "")
	for _, a := range secretRoutes {
		t.Run(a.name, func(t *testing.T) {
			c := connect(t, w.URL, supportToken)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			got, err := a.try(ctx, c)
			if err == nil || strings.Contains(got, secretText) {
				t.Fatalf("%s answered %q (err %v); want a refusal and no secret", a.name, got, err)
			}
			if !strings.Contains(err.Error(), "ended this session") {
				t.Errorf("refusal %q does not say the session was ended", err)
			}
			ev := verdictOf(t, w, c.GetSessionId(), a.kind, "secrets")
			if ev.Verdict != warden.Kill.String() {
				t.Errorf("%s recorded as %q, want kill (reasons %q)", a.name, ev.Verdict, ev.Reasons)
			}
			if _, err := c.ListTools(ctx, mcp.ListToolsRequest{}); err == nil {
				t.Errorf("the session outlived its kill")
			}
		})
	}
}

// What the workflow allows by the new routes still works, and each read
// and get is on record with its verdict and its result.
func TestAllowedResourcesAndPromptsAreRecorded(t *testing.T) {
	w := routesWarden(t, "")
	c := connect(t, w.URL, supportToken)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	text, err := readResource(ctx, c, "kb://files/"+policiesPath)
	if err != nil || !strings.Contains(text, "Refunds up to 200 EUR") {
		t.Fatalf("resources/read of the refund policy: %q, %v", text, err)
	}
	msgs, err := getPrompt(ctx, c, "summarize_file", map[string]string{"path": policiesPath})
	if err != nil || !strings.Contains(msgs, "Refunds up to 200 EUR") {
		t.Fatalf("prompts/get summarize_file: %q, %v", msgs, err)
	}
	// What the workflow names is listed, subscribable and completable.
	checkListed(ctx, t, c, 3, 1, 1)
	sub := mcp.SubscribeRequest{}
	sub.Params.URI = "kb://files/" + policiesPath
	if err := c.Subscribe(ctx, sub); err != nil {
		t.Errorf("resources/subscribe of a readable resource: %v", err)
	}
	comp := mcp.CompleteRequest{}
	comp.Params.Ref = mcp.PromptReference{Type: "ref/prompt", Name: "summarize_file"}
	comp.Params.Argument = mcp.CompleteArgument{Name: "path", Value: "pol"}
	if cr, err := c.Complete(ctx, comp); err != nil || len(cr.Completion.Values) != 1 || cr.Completion.Values[0] != policiesPath {
		t.Errorf("completion/complete of summarize_file's path: %+v, %v", cr, err)
	}
	sid := c.GetSessionId()
	evs, err := w.Store.Events(t.Context(), sid)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct{ kind, name string }{{store.KindResourceRead, "kb://files/" + policiesPath}, {store.KindPromptGet, "summarize_file"}} {
		call := verdictOf(t, w, sid, want.kind, want.name)
		if call.Verdict != warden.Allow.String() || call.Upstream != "desk" {
			t.Errorf("%s %s recorded as %q at %q, want allow at desk", want.kind, want.name, call.Verdict, call.Upstream)
		}
		var data struct {
			Steps []string `json:"steps"`
		}
		_ = json.Unmarshal(call.Data, &data)
		if len(data.Steps) == 0 {
			t.Errorf("%s %s: no workflow step on record (%s)", want.kind, want.name, call.Data)
		}
		found := false
		for _, e := range evs {
			if e.Kind == store.KindResult && e.CallID == call.CallID {
				found = true
				var rec supervisor.ResultRecord
				if json.Unmarshal(e.Data, &rec) != nil || !strings.Contains(rec.Text, "Refunds up to 200 EUR") || e.Verdict != "allow" || !e.OK {
					t.Errorf("%s %s: result recorded as %+v (%s)", want.kind, want.name, e, e.Data)
				}
			}
		}
		if !found {
			t.Errorf("%s %s: no result on record", want.kind, want.name)
		}
	}
}

// resultsOnly allows every knowledge-base route, and relies on the result
// rule alone: a secret in what comes back is withheld and kills, whatever
// the route.
const resultsOnly = `
agent: support-bot
purpose: read the knowledge base
start: [read_docs]
anytime: [read_docs, read_kb, summarize_doc]
steps:
  - name: read_docs
    tool: read_file
  - name: read_kb
    resource: "kb://files/*"
  - name: summarize_doc
    prompt: summarize_file
result_rules:
  - name: leaked-key
    when: "toJSON(result) contains 'sk_live_'"
    action: kill
    reason: a live API key in a result
`

func TestResultRulesWithholdResourcesAndPrompts(t *testing.T) {
	w := routesWarden(t, resultsOnly)
	for _, a := range secretRoutes {
		t.Run(a.name, func(t *testing.T) {
			c := connect(t, w.URL, supportToken)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			got, err := a.try(ctx, c)
			if err == nil || strings.Contains(got, secretText) || strings.Contains(err.Error(), secretText) {
				t.Fatalf("%s answered %q (err %v); want the result withheld", a.name, got, err)
			}
			if !strings.Contains(err.Error(), "withheld the result") {
				t.Errorf("refusal %q does not say the result was withheld", err)
			}
			call := verdictOf(t, w, c.GetSessionId(), a.kind, "secrets")
			evs, _ := w.Store.Events(t.Context(), c.GetSessionId())
			killed := false
			for _, e := range evs {
				killed = killed || (e.Kind == store.KindResult && e.CallID == call.CallID && e.Verdict == warden.Kill.String())
			}
			if !killed {
				t.Errorf("%s: no result recorded with the kill", a.name)
			}
		})
	}
}

// An agent whose tools are restricted, with no resources: or prompts:
// patterns, gets none: not listed, not readable, not subscribable, not
// completable, and each attempt to read or get is on record as denied.
func TestRestrictedAgentGetsNoOtherRoute(t *testing.T) {
	w := routesWarden(t, "")
	c := connect(t, w.URL, readerToken)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if res := callTool(t, c, "read_file", map[string]any{"path": policiesPath}); res.IsError {
		t.Fatalf("the reader's own tool was refused: %s", resultText(res))
	}
	checkListed(ctx, t, c, 0, 0, 0)
	if text, err := readResource(ctx, c, "kb://files/"+secretPath); err == nil {
		t.Errorf("resources/read answered %q", text)
	}
	if text, err := getPrompt(ctx, c, "summarize_file", map[string]string{"path": secretPath}); err == nil {
		t.Errorf("prompts/get answered %q", text)
	}
	sub := mcp.SubscribeRequest{}
	sub.Params.URI = "kb://files/" + secretPath
	if err := c.Subscribe(ctx, sub); err == nil {
		t.Errorf("resources/subscribe was accepted")
	}
	comp := mcp.CompleteRequest{}
	comp.Params.Ref = mcp.PromptReference{Type: "ref/prompt", Name: "summarize_file"}
	comp.Params.Argument = mcp.CompleteArgument{Name: "path", Value: "sec"}
	if cr, err := c.Complete(ctx, comp); err == nil {
		t.Errorf("completion/complete of summarize_file was answered: %v", cr.Completion.Values)
	}
	comp.Params.Ref = mcp.ResourceReference{Type: "ref/resource", URI: "kb://files/{+path}"}
	if cr, err := c.Complete(ctx, comp); err == nil {
		t.Errorf("completion/complete of the kb template was answered: %v", cr.Completion.Values)
	}
	sid := c.GetSessionId()
	for _, k := range []struct{ kind, name string }{
		{store.KindResourceRead, "secrets"}, {store.KindPromptGet, "summarize_file"}, {"resource_subscribe", "secrets"},
	} {
		if ev := verdictOf(t, w, sid, k.kind, k.name); ev.Verdict != warden.Deny.String() {
			t.Errorf("%s %s recorded as %q, want deny", k.kind, k.name, ev.Verdict)
		}
	}
}

// A workflow that names no resource puts a read out of scope: the read
// steps up, is held until an approver decides, and goes through once
// approved.
const noResources = `
agent: support-bot
purpose: read the knowledge base by its tool only
start: [read_docs]
anytime: [read_docs]
steps:
  - name: read_docs
    tool: read_file
`

func TestResourceReadStepsUpForApproval(t *testing.T) {
	w := routesWarden(t, noResources, func(o *supervisor.Options) {
		o.Escalation.Approvals = true
		o.Escalation.ApprovalTimeout = 30 * time.Second
	})
	admin := routesAdminOf(t, w)
	c := connect(t, w.URL, supportToken)
	sid := c.GetSessionId()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	type answer struct {
		text string
		err  error
	}
	done := make(chan answer, 1)
	go func() {
		text, err := readResource(ctx, c, "kb://files/"+policiesPath)
		done <- answer{text, err}
	}()
	var held []store.Approval
	waitFor(t, 10*time.Second, "the resource read held for approval", func() bool {
		var err error
		held, err = w.Store.Approvals(t.Context(), store.ApprovalFilter{Session: sid, State: store.ApprovalPending})
		return err == nil && len(held) == 1
	})
	if held[0].Tool != "kb://files/"+policiesPath {
		t.Errorf("approval is for %q", held[0].Tool)
	}
	if st, body := admin.Do(t, http.MethodPost, "/v1/approvals/"+held[0].ID+"/decision",
		map[string]string{"decision": store.DecisionOnce, "by": "alice"}, nil); st != http.StatusOK {
		t.Fatalf("decision: %d %s", st, body)
	}
	got := <-done
	if got.err != nil || !strings.Contains(got.text, "Refunds up to 200 EUR") {
		t.Fatalf("approved read answered %q, %v", got.text, got.err)
	}
	if ev := verdictOf(t, w, sid, store.KindResourceRead, policiesPath); ev.Verdict != warden.StepUp.String() {
		t.Errorf("read recorded as %q, want step_up", ev.Verdict)
	}
	// Without an approver, the same read is refused.
	w2 := routesWarden(t, noResources)
	c2 := connect(t, w2.URL, supportToken)
	if text, err := readResource(ctx, c2, "kb://files/"+policiesPath); err == nil || !strings.Contains(err.Error(), "step_up") {
		t.Errorf("read without an approver: %q, %v; want a step_up refusal", text, err)
	}
}

// A URI that an upstream could resolve elsewhere than the policy reads it
// (dot segments, encoded separators) is refused and recorded as denied,
// before a rule on the plain URI could be walked around.
func TestResourceURIsOnlyInPlainForm(t *testing.T) {
	w := routesWarden(t, "")
	c := connect(t, w.URL, supportToken)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for _, uri := range []string{
		"kb://files/policies/../" + secretPath,
		"kb://files/policies%2F..%2F" + secretPath,
		"kb://files/./" + secretPath,
	} {
		text, err := readResource(ctx, c, uri)
		if err == nil || !strings.Contains(err.Error(), "warden refused") {
			t.Errorf("read %q: %q, %v; want warden's refusal", uri, text, err)
		}
		if ev := verdictOf(t, w, c.GetSessionId(), store.KindResourceRead, uri); ev.Verdict != warden.Deny.String() {
			t.Errorf("read %q recorded as %q, want deny", uri, ev.Verdict)
		}
	}
	// The session goes on: a URI in plain form is decided as usual.
	if text, err := readResource(ctx, c, "kb://files/"+policiesPath); err != nil || text == "" {
		t.Errorf("plain read after refusals: %q, %v", text, err)
	}
}
