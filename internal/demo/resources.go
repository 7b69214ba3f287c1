package demo

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// filePrefix is where the knowledge base's files are as resources.
const filePrefix = "kb://files/"

// addResources offers the knowledge base by two more routes, as real
// servers do: every file as a resource (and a template for any path), and
// a prompt that summarises a file, its text inlined. They reach the same
// files as read_file, secrets included.
func (u *Upstream) addResources(s *server.MCPServer) {
	u.mu.Lock()
	names := make([]string, 0, len(u.files))
	for n := range u.files {
		names = append(names, n)
	}
	u.mu.Unlock()
	sort.Strings(names)
	for _, n := range names {
		s.AddResource(mcp.NewResource(filePrefix+n, n, mcp.WithMIMEType("text/plain")), u.readResource)
	}
	s.AddResourceTemplate(mcp.NewResourceTemplate(filePrefix+"{+path}", "knowledge base file",
		mcp.WithTemplateMIMEType("text/plain")), u.readResource)
	s.AddPrompt(mcp.NewPrompt("summarize_file",
		mcp.WithPromptDescription("Summarise a file of the support knowledge base."),
		mcp.WithArgument("path", mcp.RequiredArgument(), mcp.ArgumentDescription("the file's path, e.g. policies/refunds.md")),
	), u.summarize)
}

// completer completes file paths, for the prompt's path argument and the
// template's: one more route that tells what files there are.
type completer struct{ u *Upstream }

func (c completer) paths(prefix string) *mcp.Completion {
	c.u.mu.Lock()
	defer c.u.mu.Unlock()
	out := []string{}
	for n := range c.u.files {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return &mcp.Completion{Values: out, Total: len(out)}
}

func (c completer) CompletePromptArgument(_ context.Context, _ string, arg mcp.CompleteArgument, _ mcp.CompleteContext) (*mcp.Completion, error) {
	return c.paths(arg.Value), nil
}

func (c completer) CompleteResourceArgument(_ context.Context, _ string, arg mcp.CompleteArgument, _ mcp.CompleteContext) (*mcp.Completion, error) {
	return c.paths(arg.Value), nil
}

func (u *Upstream) file(path string) (string, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	text, ok := u.files[path]
	if !ok {
		return "", fmt.Errorf("no file %q", path)
	}
	return text, nil
}

func (u *Upstream) readResource(_ context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
	text, err := u.file(strings.TrimPrefix(req.Params.URI, filePrefix))
	if err != nil {
		return nil, err
	}
	return []mcp.ResourceContents{mcp.TextResourceContents{URI: req.Params.URI, MIMEType: "text/plain", Text: text}}, nil
}

func (u *Upstream) summarize(_ context.Context, req mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
	path := req.Params.Arguments["path"]
	text, err := u.file(path)
	if err != nil {
		return nil, err
	}
	return mcp.NewGetPromptResult("Summarise "+path, []mcp.PromptMessage{
		mcp.NewPromptMessage(mcp.RoleUser, mcp.NewTextContent("Summarise this file ("+path+") in two sentences:\n\n"+text)),
	}), nil
}
