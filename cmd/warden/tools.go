package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"text/tabwriter"

	"github.com/warden-dev/warden/supervisor"
)

type toolsCmd struct {
	Ls     toolsLsCmd     `cmd:"" help:"List the upstreams' tools and whether a definition changed since it was pinned."`
	Accept toolsAcceptCmd `cmd:"" help:"Accept a tool's changed definition: pin it, so its calls are decided as before."`
}

type toolsLsCmd struct {
	adminFlags
}

func (c *toolsLsCmd) Run() error { return runAdmin(c) }

func (c *toolsLsCmd) run(ctx context.Context, out io.Writer, getenv func(string) string) error {
	cl, err := c.client(getenv)
	if err != nil {
		return err
	}
	var list []supervisor.ToolStatus
	raw, err := cl.call(ctx, http.MethodGet, "/v1/tools", nil, nil, &list)
	if err != nil {
		return fmt.Errorf("list tools: %w", err)
	}
	if c.JSON {
		return printRaw(out, raw, "[]")
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOOL\tUPSTREAM\tDEFINITION")
	for _, t := range list {
		state := "pinned " + shortHashOf(t.Hash)
		if t.Changed {
			state = fmt.Sprintf("CHANGED: pinned %s, now %s (calls step up until accepted)", shortHashOf(t.Pinned), shortHashOf(t.Hash))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", t.Name, t.Upstream, state)
	}
	return tw.Flush()
}

func shortHashOf(h string) string {
	if len(h) > 12 {
		return h[:12] + "…"
	}
	return h
}

type toolsAcceptCmd struct {
	adminFlags
	Name string `arg:"" help:"The tool's name as agents see it."`
	By   string `help:"Who accepts, recorded (default: $USER@hostname)."`
}

func (c *toolsAcceptCmd) Run() error { return runAdmin(c) }

func (c *toolsAcceptCmd) run(ctx context.Context, out io.Writer, getenv func(string) string) error {
	cl, err := c.client(getenv)
	if err != nil {
		return err
	}
	by := byOrMe(c.By, getenv)
	raw, err := cl.post(ctx, "/v1/tools/"+url.PathEscape(c.Name)+"/accept", map[string]string{"by": by}, "tool", c.Name, "accept tool "+c.Name)
	if err != nil {
		return err
	}
	if c.JSON {
		return printRaw(out, raw, "{}")
	}
	_, err = fmt.Fprintf(out, "accepted the current definition of %s\n", c.Name)
	return err
}
