package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/warden-dev/warden"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
	"github.com/warden-dev/warden/tools"
)

// An agent's resources: and prompts: patterns against the reference
// server (npm's server-everything): it is shown, and may read and get,
// only what they allow; every other read and get is refused and on record.
func TestEverythingRoutesFollowPatterns(t *testing.T) {
	const (
		openToken   = "open-token-0123456789abcdef"
		narrowToken = "narrow-token-0123456789abcdef"
		textURI     = "demo://resource/dynamic/text/1"
		blobURI     = "demo://resource/dynamic/blob/1"
	)
	w := startWarden(t, []tools.Spec{everythingUpstreams(t)["http"]}, []supervisor.Agent{
		{Name: "open", TokenSHA256: hashToken(openToken)},
		{Name: "narrow", TokenSHA256: hashToken(narrowToken), Tools: []string{"echo"},
			Resources: []string{"demo://resource/dynamic/text/*"}, Prompts: []string{"simple-prompt"}},
	})
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	// The unrestricted agent sees the static documents; the narrow one
	// must not reach them.
	open := connect(t, w.URL, openToken)
	all, err := open.ListResources(ctx, mcp.ListResourcesRequest{})
	if err != nil || len(all.Resources) == 0 {
		t.Fatalf("resources/list for an unrestricted agent: %v (%d)", err, len(all.Resources))
	}
	static := all.Resources[0].URI

	c := connect(t, w.URL, narrowToken)
	rl, err := c.ListResources(ctx, mcp.ListResourcesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rl.Resources {
		if !strings.HasPrefix(r.URI, "demo://resource/dynamic/text/") {
			t.Errorf("resources/list shows %s", r.URI)
		}
	}
	tl, err := c.ListResourceTemplates(ctx, mcp.ListResourceTemplatesRequest{})
	if err != nil || len(tl.ResourceTemplates) != 1 || !strings.Contains(tl.ResourceTemplates[0].URITemplate.Raw(), "/text/") {
		t.Errorf("resources/templates/list: %v, %d templates; want only the text one", err, len(tl.ResourceTemplates))
	}
	pl, err := c.ListPrompts(ctx, mcp.ListPromptsRequest{})
	if err != nil || len(pl.Prompts) != 1 || pl.Prompts[0].Name != "simple-prompt" {
		t.Errorf("prompts/list: %v, %+v; want only simple-prompt", err, pl)
	}

	if text, err := readResource(ctx, c, textURI); err != nil || text == "" {
		t.Errorf("allowed read of %s: %q, %v", textURI, text, err)
	}
	if _, err := getPrompt(ctx, c, "simple-prompt", nil); err != nil {
		t.Errorf("allowed prompts/get simple-prompt: %v", err)
	}
	for _, uri := range []string{blobURI, static} {
		if text, err := readResource(ctx, c, uri); err == nil {
			t.Errorf("read of %s answered %q", uri, text)
		}
	}
	if text, err := getPrompt(ctx, c, "resource-prompt", map[string]string{"resourceType": "Text", "resourceId": "1"}); err == nil {
		t.Errorf("prompts/get resource-prompt answered %q", text)
	}
	comp := mcp.CompleteRequest{}
	comp.Params.Ref = mcp.PromptReference{Type: "ref/prompt", Name: "completable-prompt"}
	comp.Params.Argument = mcp.CompleteArgument{Name: "department", Value: "E"}
	if cr, err := c.Complete(ctx, comp); err == nil {
		t.Errorf("completion/complete of completable-prompt answered %v", cr.Completion.Values)
	}

	sid := c.GetSessionId()
	for _, want := range []struct{ kind, name, verdict string }{
		{store.KindResourceRead, textURI, warden.Allow.String()},
		{store.KindPromptGet, "simple-prompt", warden.Allow.String()},
		{store.KindResourceRead, blobURI, warden.Deny.String()},
		{store.KindResourceRead, static, warden.Deny.String()},
		{store.KindPromptGet, "resource-prompt", warden.Deny.String()},
	} {
		if ev := verdictOf(t, w, sid, want.kind, want.name); ev.Verdict != want.verdict {
			t.Errorf("%s %s recorded as %q, want %s", want.kind, want.name, ev.Verdict, want.verdict)
		}
	}
}
