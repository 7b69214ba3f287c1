package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/warden-dev/warden"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
	"github.com/warden-dev/warden/tools"
	"github.com/warden-dev/warden/workflows"
)

// A file server written the idiomatic mcp-go way: a template
// kb://files/{+path}, whose handler reads the path mcp-go matched (which
// mcp-go percent-decodes, and which takes in what follows a "?" too) and
// joins it to its root (which cleans "//" and dot segments). The policy
// reads the URI as text. Every URI below reaches secrets/ on that server
// while it does not start with kb://files/secrets/.

const uriSecret = "the-secret-of-the-file-server"

// uriPolicy lets the agent read the knowledge base and kills a session that
// reads its secrets folder; no result rule stands behind the call rule.
const uriPolicy = `
agent: support-bot
purpose: read the knowledge base
start: [read_kb]
anytime: [read_kb]
steps:
  - name: read_kb
    resource: "kb://files/*"
rules:
  - name: secrets
    when: "call.uri startsWith 'kb://files/secrets/'"
    action: kill
    reason: no business with the secrets folder
`

// fileServer is the upstream: real files in a temporary directory.
func fileServer(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for name, text := range map[string]string{"policies/refunds.md": "Refunds up to 200 EUR", "secrets/api-keys.env": uriSecret} {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := server.NewMCPServer("files", "1.0.0", server.WithResourceCapabilities(false, false))
	s.AddResourceTemplate(mcp.NewResourceTemplate("kb://files/{+path}", "file"),
		func(_ context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
			var rel string
			switch v := req.Params.Arguments["path"].(type) {
			case string:
				rel = v
			case []string:
				rel = strings.Join(v, "/")
			}
			text, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
			if err != nil {
				return nil, fmt.Errorf("read %q: %w", rel, err)
			}
			return []mcp.ResourceContents{mcp.TextResourceContents{URI: req.Params.URI, Text: string(text)}}, nil
		})
	return serveUpstream(t, s)
}

func TestResourceURIFormsThatReachSecretsAreRefused(t *testing.T) {
	w, err := workflows.Parse("files.yaml", []byte(uriPolicy))
	if err != nil {
		t.Fatal(err)
	}
	wd := startWarden(t, []tools.Spec{{Name: "files", URL: fileServer(t)}},
		[]supervisor.Agent{{Name: "support-bot", TokenSHA256: hashToken(supportToken)}},
		func(o *supervisor.Options) { o.Policies = map[string]*supervisor.Policy{"support-bot": {Workflow: w}} })

	// The plain URI is killed: the rule works as written.
	c := connect(t, wd.URL, supportToken)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if text, err := readResource(ctx, c, "kb://files/secrets/api-keys.env"); err == nil || strings.Contains(text, uriSecret) {
		t.Fatalf("the plain URI of the secret: %q, %v; want a refusal", text, err)
	}
	if text, err := readResource(ctx, connect(t, wd.URL, supportToken), "kb://files/policies/refunds.md"); err != nil || !strings.Contains(text, "Refunds") {
		t.Fatalf("an allowed file: %q, %v", text, err)
	}

	for _, uri := range []string{
		"kb://files/%73ecrets/api-keys.env",            // mcp-go decodes the template's variable
		"kb://files//secrets/api-keys.env",             // an empty segment, cleaned by the join
		"kb://files/x?/../secrets/api-keys.env",        // {+path} takes the "query" in, dot segments and all
		"kb://files/policies#/../secrets/api-keys.env", // the same with a "fragment"
	} {
		t.Run(uri, func(t *testing.T) {
			c := connect(t, wd.URL, supportToken)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			text, err := readResource(ctx, c, uri)
			if err == nil || strings.Contains(text, uriSecret) || strings.Contains(err.Error(), uriSecret) {
				t.Fatalf("read %q got the secret (%q, %v); want warden's refusal", uri, text, err)
			}
			if ev := verdictOf(t, wd, c.GetSessionId(), store.KindResourceRead, uri); ev.Verdict == warden.Allow.String() {
				t.Errorf("read %q recorded as allowed", uri)
			}
		})
	}
}
