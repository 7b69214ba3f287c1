package supervisor

import (
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/warden-dev/warden/workflows"
)

// An agent's resource and prompt patterns, and what nil patterns mean.
func TestAgentSeesRoute(t *testing.T) {
	const (
		res = workflows.KindResource
		pr  = workflows.KindPrompt
	)
	tests := []struct {
		name             string
		agent            Agent
		kind, up, target string
		want             bool
	}{
		{"unrestricted agent, nil patterns", Agent{}, res, "desk", "kb://files/a", true},
		{"tools \"*\", nil patterns", Agent{Tools: []string{"*"}}, pr, "desk", "summarize_file", true},
		{"restricted tools, nil patterns", Agent{Tools: []string{"read_*"}}, res, "desk", "kb://files/a", false},
		{"restricted tools, nil prompt patterns", Agent{Tools: []string{"read_*"}}, pr, "desk", "summarize_file", false},
		{"empty patterns", Agent{Resources: []string{}}, res, "desk", "kb://files/a", false},
		{"resource glob crosses /", Agent{Resources: []string{"kb://files/*"}}, res, "desk", "kb://files/a/b.md", true},
		{"resource outside the glob", Agent{Resources: []string{"kb://files/policies/*"}}, res, "desk", "kb://files/secrets/k", false},
		{"prompt pattern", Agent{Prompts: []string{"summarize_*"}}, pr, "desk", "summarize_file", true},
		{"prompt pattern does not cover resources", Agent{Prompts: []string{"*"}, Resources: []string{}}, res, "desk", "x", false},
		{"other upstream", Agent{Upstreams: []string{"files"}}, res, "desk", "kb://files/a", false},
		{"unknown kind", Agent{}, "tool", "desk", "read_file", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.agent.seesRoute(tc.kind, tc.up, tc.target); got != tc.want {
				t.Errorf("seesRoute(%s, %s, %q) = %v, want %v", tc.kind, tc.up, tc.target, got, tc.want)
			}
		})
	}
}

func TestCheckURI(t *testing.T) {
	tests := []struct {
		uri string
		ok  bool
	}{
		{"kb://files/policies/refunds.md", true},
		{"file:///etc/hosts", true},
		{"test://static/resource/1", true},
		{"kb://files/a.b/c..d/e", true},
		{"kb://files/x?q=a", true},
		{"kb://files/x%20y%C5%BF", true},             // no plain form
		{"kb://files/x?q=a/../b", false},             // a {+path} variable takes the query in
		{"kb://files/policies#/../secrets/k", false}, // and the fragment
		{"kb://files//secrets/k", false},             // a join cleans it away
		{"kb://files/%73ecrets/k", false},            // mcp-go decodes a template's variable
		{"kb://files/secrets%2fk", false},
		{"kb://files/secrets%7", false},
		{"kb://files/secrets/", true},
		{"kb://files/x?/../secrets/api-keys.env", false},
		{"kb://../secrets/api-keys.env", false}, // a template kb://{+path} takes the authority in
		{"kb:../secrets/api-keys.env", false},   // and kb:{+path} an opaque body
		{"../secrets/api-keys.env", false},
		{"kb://files/policies/../secrets/api-keys.env", false},
		{"kb://files/./secrets/api-keys.env", false},
		{"kb://files/policies/..", false},
		{"kb://files/policies%2F..%2Fsecrets/k", false},
		{"kb://files/%2e%2e/secrets/k", false},
		{"kb://files/policies\\..\\secrets\\k", false},
		{"kb://files/secrets/k\n", false},
		{"kb://files/ secrets/k", false},
	}
	for _, tc := range tests {
		if err := checkURI(tc.uri); (err == nil) != tc.ok {
			t.Errorf("checkURI(%q) = %v, want ok %v", tc.uri, err, tc.ok)
		}
	}
}

// What result rules read of a result: text, and text resources embedded
// in a tool result or a prompt's messages; not blobs or images.
func TestResultText(t *testing.T) {
	secret := mcp.TextResourceContents{URI: "kb://files/secrets/k", Text: "sk_live_x"}
	tests := []struct {
		name string
		res  *mcp.CallToolResult
		want string
	}{
		{"text", &mcp.CallToolResult{Content: []mcp.Content{mcp.NewTextContent("a"), mcp.NewTextContent("b")}}, "a\nb"},
		{"embedded text resource", &mcp.CallToolResult{Content: []mcp.Content{mcp.NewTextContent("a"), mcp.NewEmbeddedResource(secret)}}, "a\nsk_live_x"},
		{"blob and image skipped", &mcp.CallToolResult{Content: []mcp.Content{
			mcp.NewEmbeddedResource(mcp.BlobResourceContents{URI: "x", Blob: "AAAA"}), mcp.NewImageContent("AAAA", "image/png"), mcp.NewTextContent("c")}}, "c"},
		{"prompt messages", promptView(&mcp.GetPromptResult{Messages: []mcp.PromptMessage{
			mcp.NewPromptMessage(mcp.RoleUser, mcp.NewTextContent("read this")),
			mcp.NewPromptMessage(mcp.RoleUser, mcp.NewEmbeddedResource(secret))}}), "read this\nsk_live_x"},
		{"resource contents", resourceView(&mcp.ReadResourceResult{Contents: []mcp.ResourceContents{secret, mcp.BlobResourceContents{URI: "y", Blob: "AAAA"}}}), "sk_live_x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := allText(tc.res); got != tc.want {
				t.Errorf("allText = %q, want %q", got, tc.want)
			}
		})
	}
}

// FuzzCheckURI: a URI checkURI accepts has no control character, space or
// backslash, and no "." or ".." segment anywhere after its scheme,
// however an upstream splits it.
func FuzzCheckURI(f *testing.F) {
	for _, s := range []string{"kb://files/a/b", "kb://files/../x", "kb://x?/../y", "file:///etc/hosts", "kb://files/%2e%2e/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		if checkURI(uri) != nil {
			return
		}
		if strings.ContainsAny(uri, "\\\t\n\r ") {
			t.Fatalf("accepted %q with a backslash, control or space", uri)
		}
		rest := uri
		if _, after, ok := strings.Cut(uri, ":"); ok {
			rest = after
		}
		for _, seg := range strings.FieldsFunc(rest, func(r rune) bool { return r == '/' || r == '?' || r == '#' }) {
			if seg == "." || seg == ".." {
				t.Fatalf("accepted %q with a dot segment", uri)
			}
		}
	})
}
