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
