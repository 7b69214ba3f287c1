package e2e

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
	"github.com/warden-dev/warden/tools"
	"github.com/warden-dev/warden/workflows"
)

// A guard that allows one site by host() must not let through a URL that a
// browser or fetch would send to another host. The workflow reads the host
// of get_webpage's url; a prompt-injected agent tries the parser
// differentials of the WHATWG and RFC 3986 readings.
const urlWorkflow = `
agent: reader
purpose: read the company's own site
on_violation: deny
start: [read]
anytime: [read]
steps:
  - name: read
    tool: get_webpage
    guard: "host(args.url) == 'informations.com'"
    next: ["*"]
`

func TestURLParserDifferentialsAreRefused(t *testing.T) {
	var (
		mu      sync.Mutex
		fetched []string
	)
	s := server.NewMCPServer("web", "1.0.0", server.WithToolCapabilities(true))
	s.AddTool(mcp.NewTool("get_webpage", mcp.WithString("url", mcp.Required())),
		func(_ context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			mu.Lock()
			defer mu.Unlock()
			fetched = append(fetched, req.GetString("url", ""))
			return mcp.NewToolResultText("<html>ok</html>"), nil
		})
	wf, err := workflows.Parse("reader.yaml", []byte(urlWorkflow))
	if err != nil {
		t.Fatal(err)
	}
	const token = "reader-token-0123456789abcdef"
	w := startWarden(t, []tools.Spec{{Name: "web", URL: serveUpstream(t, s)}},
		[]supervisor.Agent{{Name: "reader", TokenSHA256: hashToken(token)}},
		func(o *supervisor.Options) { o.Policies = map[string]*supervisor.Policy{"reader": {Workflow: wf}} })
	c := connect(t, w.URL, token)

	if res := callTool(t, c, "get_webpage", map[string]any{"url": "https://www.informations.com/news"}); res.IsError {
		t.Fatalf("the allowed site was refused: %s", resultText(res))
	}
	tricks := []string{
		`https://evil.com\@informations.com/?key=1`,     // fetch goes to evil.com
		"https:evil.com/k=1#://informations.com",        // no "//": the host is evil.com
		"https://informations.com@evil.com/",            // userinfo
		"https://informations.com%2f@evil.com/",         // encoded userinfo
		"https://evil.com\t/#informations.com",          // a tab browsers drop
		"http://0x7f.1/?informations.com",               // a numeric host browsers rewrite
		"https://evil.com/\\@informations.com/redirect", // a backslash anywhere
	}
	for _, u := range tricks {
		res := callTool(t, c, "get_webpage", map[string]any{"url": u})
		if !res.IsError {
			t.Errorf("get_webpage(%q) was forwarded: %s", u, resultText(res))
		}
	}
	mu.Lock()
	if !slices.Equal(fetched, []string{"https://www.informations.com/news"}) {
		t.Errorf("the upstream fetched %q; want only the allowed site", fetched)
	}
	mu.Unlock()

	evs, err := w.Store.Events(t.Context(), c.GetSessionId())
	if err != nil {
		t.Fatal(err)
	}
	denied := 0
	for _, e := range evs {
		if e.Kind == store.KindCall && e.Verdict == "deny" && strings.Contains(strings.Join(e.Reasons, " "), "host()") {
			denied++
		}
	}
	if denied != len(tricks) {
		t.Errorf("%d calls recorded as denied by host(), want %d", denied, len(tricks))
	}
}
