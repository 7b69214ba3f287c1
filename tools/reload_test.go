package tools_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/warden-dev/warden/tools"
)

// reloadUpstream serves, on 127.0.0.1, an MCP server whose one tool
// answers with who it is.
func reloadUpstream(t *testing.T, name, tool string) tools.Spec {
	t.Helper()
	up := server.NewMCPServer(name, "1", server.WithToolCapabilities(true))
	up.AddTool(mcp.NewTool(tool), func(_ context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return mcp.NewToolResultText(name), nil
	})
	srv := httptest.NewServer(server.NewStreamableHTTPServer(up, server.WithStreamableHTTPProtocolVersions("2025-11-25", "2025-06-18", "2025-03-26")))
	t.Cleanup(srv.Close)
	return tools.Spec{Name: "up-" + tool, URL: srv.URL, Sharing: tools.Shared}
}

// TestSetUpstreams adds, replaces and removes upstreams of a running hub:
// the catalog follows at once, calls reach the upstream in force, a
// removed upstream's tool is unknown, an invalid set changes nothing, and
// Close leaves no goroutine of a removed upstream behind (TestMain).
func TestSetUpstreams(t *testing.T) {
	alpha, beta := reloadUpstream(t, "first", "alpha"), reloadUpstream(t, "second", "beta")
	hub, err := tools.NewHub([]tools.Spec{alpha}, tools.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hub.Close() })
	hub.Start(t.Context(), nil, func(*tools.Catalog) {})
	who := tools.Session{ID: "s1", Agent: "a"}
	call := func(tool string) (string, error) {
		t.Helper()
		req := mcp.CallToolRequest{}
		req.Params.Name = tool
		res, _, err := hub.CallTool(t.Context(), who, req)
		if err != nil {
			return "", err
		}
		return res.Content[0].(mcp.TextContent).Text, nil
	}
	names := func() []string {
		var out []string
		for _, tl := range hub.Catalog().Tools {
			out = append(out, tl.Def.Name)
		}
		slices.Sort(out)
		return out
	}
	betaAgain := reloadUpstream(t, "third", "beta")
	betaAgain.Name = beta.Name
	steps := []struct {
		specs      []tools.Spec
		want       tools.UpstreamChanges
		tools      []string
		answers    map[string]string // tool → the upstream that answers
		gone       string            // a tool that must be unknown
		invalidErr bool
	}{
		{specs: []tools.Spec{alpha, beta}, want: tools.UpstreamChanges{Added: []string{beta.Name}},
			tools: []string{"alpha", "beta"}, answers: map[string]string{"alpha": "first", "beta": "second"}},
		{specs: []tools.Spec{alpha, beta, {Name: "broken"}}, invalidErr: true,
			tools: []string{"alpha", "beta"}, answers: map[string]string{"alpha": "first", "beta": "second"}},
		{specs: []tools.Spec{betaAgain}, want: tools.UpstreamChanges{Replaced: []string{beta.Name}, Removed: []string{alpha.Name}},
			tools: []string{"beta"}, answers: map[string]string{"beta": "third"}, gone: "alpha"},
	}
	for i, st := range steps {
		got, err := hub.SetUpstreams(t.Context(), st.specs)
		if (err != nil) != st.invalidErr {
			t.Fatalf("step %d: SetUpstreams: %v", i, err)
		}
		if !st.invalidErr && !equalChanges(got, st.want) {
			t.Errorf("step %d: changes %+v, want %+v", i, got, st.want)
		}
		if n := names(); !slices.Equal(n, st.tools) {
			t.Errorf("step %d: catalog %v, want %v", i, n, st.tools)
		}
		for tool, want := range st.answers {
			if ans, err := call(tool); err != nil || ans != want {
				t.Errorf("step %d: %s answered %q, %v; want %q", i, tool, ans, err, want)
			}
		}
		if st.gone != "" {
			if _, err := call(st.gone); !errors.Is(err, tools.ErrUnknown) {
				t.Errorf("step %d: the removed upstream's %s: %v, want ErrUnknown", i, st.gone, err)
			}
		}
	}
}

func equalChanges(a, b tools.UpstreamChanges) bool {
	return slices.Equal(a.Added, b.Added) && slices.Equal(a.Replaced, b.Replaced) && slices.Equal(a.Removed, b.Removed)
}
