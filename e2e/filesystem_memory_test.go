package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
	"github.com/warden-dev/warden/tools"
)

const (
	fsMemToken  = "fsmem-all-token-0123456789"
	memOnlyTok  = "fsmem-memory-token-0123456789"
	fsMemWaitOn = 20 * time.Second
)

// filesystemMemoryWarden runs one warden in front of server-filesystem
// (allowed to touch only dir) and server-memory (keeping its graph in
// memFile), both over stdio.
func filesystemMemoryWarden(t *testing.T, dir, memFile string) *wardenUnderTest {
	t.Helper()
	node := node22(t)
	return startWarden(t,
		[]tools.Spec{
			{Name: "filesystem", Command: node, Args: []string{npmScript(t, "@modelcontextprotocol/server-filesystem", "dist/index.js"), dir}},
			{Name: "memory", Command: node, Args: []string{npmScript(t, "@modelcontextprotocol/server-memory", "dist/index.js")},
				Env: []string{"MEMORY_FILE_PATH=" + memFile}},
		},
		[]supervisor.Agent{
			{Name: "all", TokenSHA256: hashToken(fsMemToken)},
			{Name: "memonly", TokenSHA256: hashToken(memOnlyTok), Upstreams: []string{"memory"}},
		})
}

// toolNames lists the tools c sees, waiting until want are all there or
// the deadline passes (both upstreams start in their own time).
func toolNames(t *testing.T, c *client.Client, want ...string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), fsMemWaitOn)
	defer cancel()
	for {
		list, err := c.ListTools(ctx, mcp.ListToolsRequest{})
		if err != nil {
			t.Fatalf("tools/list: %v", err)
		}
		var names []string
		for _, tl := range list.Tools {
			names = append(names, tl.Name)
		}
		missing := slices.ContainsFunc(want, func(n string) bool { return !slices.Contains(names, n) })
		if !missing || ctx.Err() != nil {
			return names
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

var (
	filesystemTools = []string{"read_text_file", "write_file", "list_directory", "list_allowed_directories"}
	memoryTools     = []string{"create_entities", "read_graph", "search_nodes", "open_nodes"}
)

// TestFilesystemAndMemory puts two real upstreams behind one warden and
// drives them through mcp-go's client: files written and read back, a
// directory listed, a read outside the allowed directory refused by the
// upstream, a knowledge graph built and read, and an agent limited to one
// upstream that neither sees nor reaches the other.
func TestFilesystemAndMemory(t *testing.T) {
	dir := t.TempDir()
	memFile := filepath.Join(t.TempDir(), "memory.jsonl")
	outside := filepath.Join(t.TempDir(), "secret.txt")
	if err := os.WriteFile(outside, []byte("outside-the-allowed-dir"), 0o600); err != nil {
		t.Fatal(err)
	}
	w := filesystemMemoryWarden(t, dir, memFile)
	all := connect(t, w.URL, fsMemToken)

	names := toolNames(t, all, append(slices.Clone(filesystemTools), memoryTools...)...)
	for _, want := range append(slices.Clone(filesystemTools), memoryTools...) {
		if !slices.Contains(names, want) {
			t.Fatalf("tool %q missing from the merged list %v", want, names)
		}
	}

	notes := filepath.Join(dir, "notes.txt")
	const content = "line one\nwritten through warden\n"
	t.Run("write and read back", func(t *testing.T) {
		if res := callTool(t, all, "write_file", map[string]any{"path": notes, "content": content}); res.IsError {
			t.Fatalf("write_file: %s", resultText(res))
		}
		if b, err := os.ReadFile(notes); err != nil || string(b) != content {
			t.Fatalf("on disk: %q, %v", b, err)
		}
		res := callTool(t, all, "read_text_file", map[string]any{"path": notes})
		if res.IsError || resultText(res) != content {
			t.Fatalf("read_text_file = %q (error %v), want %q", resultText(res), res.IsError, content)
		}
	})
	t.Run("list directory", func(t *testing.T) {
		if err := os.Mkdir(filepath.Join(dir, "sub"), 0o700); err != nil {
			t.Fatal(err)
		}
		res := callTool(t, all, "list_directory", map[string]any{"path": dir})
		lines := strings.Split(resultText(res), "\n")
		slices.Sort(lines)
		if res.IsError || strings.Join(lines, ",") != "[DIR] sub,[FILE] notes.txt" {
			t.Fatalf("list_directory = %q", resultText(res))
		}
	})
	t.Run("read outside the allowed directory", func(t *testing.T) {
		res := callTool(t, all, "read_text_file", map[string]any{"path": outside})
		text := resultText(res)
		if !res.IsError || !strings.Contains(text, "Access denied") || strings.Contains(text, "outside-the-allowed-dir") {
			t.Fatalf("the upstream's refusal did not reach the agent as a tool error: error=%v %q", res.IsError, text)
		}
	})
	t.Run("memory graph", func(t *testing.T) {
		res := callTool(t, all, "create_entities", map[string]any{"entities": []any{
			map[string]any{"name": "warden", "entityType": "project", "observations": []any{"supervises MCP tool calls"}},
			map[string]any{"name": "bbolt", "entityType": "library", "observations": []any{"stores history"}},
		}})
		if res.IsError {
			t.Fatalf("create_entities: %s", resultText(res))
		}
		graph := readGraph(t, all)
		if len(graph.Entities) != 2 || graph.Entities[0].Name != "warden" || !slices.Contains(graph.Entities[0].Observations, "supervises MCP tool calls") {
			t.Fatalf("read_graph = %+v", graph)
		}
		// The upstream kept it where it was told to, not in node_modules.
		if b, err := os.ReadFile(memFile); err != nil || !strings.Contains(string(b), `"name":"bbolt"`) {
			t.Fatalf("memory file %s: %q, %v", memFile, b, err)
		}
	})

	t.Run("agent limited to memory", func(t *testing.T) {
		mem := connect(t, w.URL, memOnlyTok)
		names := toolNames(t, mem, memoryTools...)
		for _, n := range memoryTools {
			if !slices.Contains(names, n) {
				t.Fatalf("memory tool %q missing for the memory-only agent: %v", n, names)
			}
		}
		for _, n := range filesystemTools {
			if slices.Contains(names, n) {
				t.Fatalf("the memory-only agent sees filesystem tool %q: %v", n, names)
			}
		}
		forbidden := filepath.Join(dir, "forbidden.txt")
		req := mcp.CallToolRequest{}
		req.Params.Name = "write_file"
		req.Params.Arguments = map[string]any{"path": forbidden, "content": "x"}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if res, err := mem.CallTool(ctx, req); err == nil && !res.IsError {
			t.Fatalf("the memory-only agent called write_file: %+v", res)
		}
		if _, err := os.Stat(forbidden); !os.IsNotExist(err) {
			t.Fatalf("a hidden tool reached the upstream: %s exists (%v)", forbidden, err)
		}
		// The same upstream, shared: this agent reads what the other built.
		if graph := readGraph(t, mem); len(graph.Entities) != 2 {
			t.Fatalf("read_graph for the memory-only agent = %+v", graph)
		}
	})

	t.Run("history", func(t *testing.T) {
		want := map[string][]string{
			"all": {
				"call:filesystem/write_file", "result:filesystem/write_file:ok",
				"call:filesystem/read_text_file", "result:filesystem/read_text_file:ok",
				"call:filesystem/list_directory", "result:filesystem/list_directory:ok",
				"call:filesystem/read_text_file", "result:filesystem/read_text_file:error",
				"call:memory/create_entities", "result:memory/create_entities:ok",
				"call:memory/read_graph", "result:memory/read_graph:ok",
			},
			// The attempt on a hidden tool is refused before any upstream
			// sees it, and recorded as denied.
			"memonly": {"call:filesystem/write_file:deny", "call:memory/read_graph", "result:memory/read_graph:ok"},
		}
		for agent, wantTimeline := range want {
			evs := sessionEvents(t, w, agent)
			var got []string
			for _, e := range evs {
				switch e.Kind {
				case store.KindCall:
					entry := "call:" + e.Upstream + "/" + e.Tool
					if e.Verdict != "allow" {
						entry += ":" + e.Verdict
					}
					got = append(got, entry)
				case store.KindResult:
					status := "ok"
					if !e.OK {
						status = "error"
					}
					got = append(got, "result:"+e.Upstream+"/"+e.Tool+":"+status)
				}
			}
			if !slices.Equal(got, wantTimeline) {
				t.Fatalf("history of %s:\n got %v\nwant %v", agent, got, wantTimeline)
			}
		}
		rep, err := w.Store.Verify(context.Background())
		if err != nil || len(rep.Broken) != 0 {
			t.Fatalf("verify = %+v, %v", rep, err)
		}
	})
}

type knowledgeGraph struct {
	Entities []struct {
		Name         string   `json:"name"`
		EntityType   string   `json:"entityType"`
		Observations []string `json:"observations"`
	} `json:"entities"`
}

func readGraph(t *testing.T, c *client.Client) knowledgeGraph {
	t.Helper()
	res := callTool(t, c, "read_graph", map[string]any{})
	var g knowledgeGraph
	if res.IsError {
		t.Fatalf("read_graph: %s", resultText(res))
	}
	if err := json.Unmarshal([]byte(resultText(res)), &g); err != nil {
		t.Fatalf("read_graph text is not a graph: %v\n%s", err, resultText(res))
	}
	return g
}
