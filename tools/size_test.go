package tools

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
)

// TestSizeOf holds sizeOf to what json.Marshal produces (the size
// recorded in history and learned by baselines) and to the limit.
func TestSizeOf(t *testing.T) {
	structured := mcp.NewToolResultStructuredOnly(map[string]any{"a": []any{1, "<b>&"}})
	for _, tc := range []struct {
		name string
		res  any
	}{
		{"text", mcp.NewToolResultText("ok")},
		{"html escaped", mcp.NewToolResultText("<script>&</script>")},
		{"error", mcp.NewToolResultError("failed")},
		{"structured", structured},
		{"image", mcp.NewToolResultImage("img", "aGk=", "image/png")},
		{"raw structured, spaced", &mcp.CallToolResult{Content: []mcp.Content{mcp.NewTextContent("a")}, RawStructuredContent: json.RawMessage(" { \"x\" : [ 1, \"<&>\" ] } ")}},
		{"meta and HTML in text", &mcp.CallToolResult{Result: mcp.Result{Meta: &mcp.Meta{AdditionalFields: map[string]any{"k": "<v>"}}}, Content: []mcp.Content{mcp.NewTextContent("\u2028 <&> é")}}},
		{"read", &mcp.ReadResourceResult{Contents: []mcp.ResourceContents{mcp.TextResourceContents{URI: "a://b", Text: "x"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, err := json.Marshal(tc.res)
			if err != nil {
				t.Fatal(err)
			}
			got, err := sizeOf(tc.res)
			if err != nil || got != len(want) {
				t.Fatalf("sizeOf = %d, %v; json.Marshal gives %d bytes", got, err, len(want))
			}
		})
	}
	t.Run("over the limit", func(t *testing.T) {
		res := mcp.NewToolResultText(strings.Repeat("x", MaxResultBytes))
		if n, err := sizeOf(res); err == nil || !strings.Contains(err.Error(), "exceeds the") {
			t.Fatalf("sizeOf = %d, %v; want a refusal", n, err)
		}
	})
	t.Run("unencodable", func(t *testing.T) {
		if n, err := sizeOf(map[string]any{"f": func() {}}); err == nil || !strings.Contains(err.Error(), "unencodable") {
			t.Fatalf("sizeOf = %d, %v; want an error", n, err)
		}
	})
}

// BenchmarkSizeOf is the measuring of one small tool result.
func BenchmarkSizeOf(b *testing.B) {
	res := mcp.NewToolResultText("ok")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sizeOf(res); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzSizeOf: a tool result's measured size is json.Marshal's length,
// whatever its text and structured content.
func FuzzSizeOf(f *testing.F) {
	f.Add("ok", ` {"a" : [1, "<b>"]} `, false)
	f.Add("caf\xe9 \u2028", "", true)
	f.Fuzz(func(t *testing.T, text, structured string, isError bool) {
		res := &mcp.CallToolResult{Content: []mcp.Content{mcp.NewTextContent(text)}, IsError: isError}
		if json.Valid([]byte(structured)) {
			res.RawStructuredContent = json.RawMessage(structured)
		}
		want, err := json.Marshal(res)
		got, gerr := sizeOf(res)
		if (err == nil) != (gerr == nil) {
			t.Fatalf("sizeOf error %v, json.Marshal error %v", gerr, err)
		}
		if err == nil && len(want) <= MaxResultBytes && got != len(want) {
			t.Fatalf("sizeOf = %d; json.Marshal gives %d bytes", got, len(want))
		}
	})
}
