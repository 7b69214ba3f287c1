package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"text/tabwriter"
)

// agentsCmd groups the commands on agents' standing.
type agentsCmd struct {
	Ls      agentsLsCmd      `cmd:"" help:"List agents: suspended or not, and their live sessions."`
	Suspend agentsSuspendCmd `cmd:"" help:"Refuse an agent's token until it is restored."`
	Restore agentsRestoreCmd `cmd:"" help:"Accept a suspended agent's token again."`
}

// agentStatus is one entry of GET /v1/agents.
type agentStatus struct {
	Name         string `json:"name"`
	Suspended    bool   `json:"suspended"`
	Reason       string `json:"reason"`
	LiveSessions int    `json:"live_sessions"`
}

type agentsLsCmd struct {
	adminFlags
}

func (c *agentsLsCmd) Run() error { return runAdmin(c) }

func (c *agentsLsCmd) run(ctx context.Context, out io.Writer, getenv func(string) string) error {
	cl, err := c.client(getenv)
	if err != nil {
		return err
	}
	var list []agentStatus
	raw, err := cl.call(ctx, http.MethodGet, "/v1/agents", nil, nil, &list)
	if err != nil {
		return err
	}
	if c.JSON {
		return printRaw(out, raw, "[]")
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AGENT\tSTATUS\tLIVE SESSIONS\tREASON")
	for _, a := range list {
		status := "active"
		if a.Suspended {
			status = "suspended"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", a.Name, status, a.LiveSessions, a.Reason)
	}
	return tw.Flush()
}

type agentsSuspendCmd struct {
	adminFlags
	Name   string `arg:"" help:"Agent name."`
	Reason string `help:"Why; recorded and shown in agents ls."`
	Kill   bool   `help:"Also kill the agent's live sessions."`
	By     string `help:"Who suspends, recorded (default: $USER@hostname)."`
}

// suspendRequest is the body of POST /v1/agents/{name}/suspend.
type suspendRequest struct {
	Reason string `json:"reason"`
	By     string `json:"by"`
	Kill   bool   `json:"kill"`
}

func (c *agentsSuspendCmd) Run() error { return runAdmin(c) }

func (c *agentsSuspendCmd) run(ctx context.Context, out io.Writer, getenv func(string) string) error {
	cl, err := c.client(getenv)
	if err != nil {
		return err
	}
	by := byOrMe(c.By, getenv)
	raw, err := cl.post(ctx, "/v1/agents/"+url.PathEscape(c.Name)+"/suspend",
		suspendRequest{Reason: c.Reason, By: by, Kill: c.Kill}, "agent", c.Name, "suspend agent "+c.Name)
	if err != nil {
		return err
	}
	if c.JSON {
		return printRaw(out, raw, "{}")
	}
	msg := "suspended agent " + c.Name
	if n, ok := decodeKilled(raw); ok {
		msg += fmt.Sprintf(" and killed %d %s", n, plural(n, "session"))
	}
	_, err = fmt.Fprintln(out, msg)
	return err
}

type agentsRestoreCmd struct {
	adminFlags
	Name string `arg:"" help:"Agent name."`
	By   string `help:"Who restores, recorded (default: $USER@hostname)."`
}

// restoreRequest is the body of POST /v1/agents/{name}/restore.
type restoreRequest struct {
	By string `json:"by"`
}

func (c *agentsRestoreCmd) Run() error { return runAdmin(c) }

func (c *agentsRestoreCmd) run(ctx context.Context, out io.Writer, getenv func(string) string) error {
	cl, err := c.client(getenv)
	if err != nil {
		return err
	}
	by := byOrMe(c.By, getenv)
	raw, err := cl.post(ctx, "/v1/agents/"+url.PathEscape(c.Name)+"/restore", restoreRequest{By: by}, "agent", c.Name, "restore agent "+c.Name)
	if err != nil {
		return err
	}
	if c.JSON {
		return printRaw(out, raw, "{}")
	}
	_, err = fmt.Fprintf(out, "restored agent %s\n", c.Name)
	return err
}
