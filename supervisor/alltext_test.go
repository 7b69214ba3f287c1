package supervisor

import (
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
)

// TestAllText: a result's texts joined by newlines after the first
// non-empty one, embedded text resources included, other content left
// out; a result of one text is that text, not a copy.
func TestAllText(t *testing.T) {
	text := func(s string) mcp.Content { return mcp.NewTextContent(s) }
	res := func(s string) mcp.Content {
		return mcp.EmbeddedResource{Type: "resource", Resource: mcp.TextResourceContents{URI: "a://b", Text: s}}
	}
	img := mcp.NewImageContent("aGk=", "image/png")
	blob := mcp.EmbeddedResource{Type: "resource", Resource: mcp.BlobResourceContents{URI: "a://c", Blob: "aGk="}}
	for _, tc := range []struct {
		name    string
		content []mcp.Content
		want    string
	}{
		{"none", nil, ""},
		{"one text", []mcp.Content{text("ok")}, "ok"},
		{"one resource", []mcp.Content{res("secret")}, "secret"},
		{"one image", []mcp.Content{img}, ""},
		{"one blob", []mcp.Content{blob}, ""},
		{"two texts", []mcp.Content{text("a"), text("b")}, "a\nb"},
		{"empty first", []mcp.Content{text(""), text("b")}, "b"},
		{"empty last", []mcp.Content{text("a"), text("")}, "a\n"},
		{"mixed", []mcp.Content{img, text("a"), blob, res("r")}, "a\nr"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := allText(&mcp.CallToolResult{Content: tc.content}); got != tc.want {
				t.Fatalf("allText = %q, want %q", got, tc.want)
			}
		})
	}
	one := &mcp.CallToolResult{Content: []mcp.Content{text("a result of one text")}}
	if n := testing.AllocsPerRun(100, func() { _ = allText(one) }); n != 0 {
		t.Fatalf("%v allocations for a result of one text, want 0", n)
	}
}
