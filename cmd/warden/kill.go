package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
)

// killCmd ends a session, or every live session of an agent.
type killCmd struct {
	adminFlags
	Session string `arg:"" optional:"" help:"Session id to kill, or a prefix of it that no other session's id starts with."`
	Agent   string `help:"Kill every live session of this agent instead of one session."`
	Reason  string `help:"Why; recorded with the kill."`
	By      string `help:"Who kills, recorded with the kill (default: $USER@hostname)."`
}

// killRequest is the body of the kill endpoints.
type killRequest struct {
	Reason string `json:"reason"`
	By     string `json:"by"`
}

func (c *killCmd) Run() error { return runAdmin(c) }

func (c *killCmd) run(ctx context.Context, out io.Writer, getenv func(string) string) error {
	if (c.Session == "") == (c.Agent == "") {
		return fmt.Errorf("name one session (warden kill SESSION) or one agent (warden kill --agent NAME)")
	}
	cl, err := c.client(getenv)
	if err != nil {
		return err
	}
	by := byOrMe(c.By, getenv)
	body := killRequest{Reason: c.Reason, By: by}
	if c.Agent != "" {
		raw, err := cl.post(ctx, "/v1/agents/"+url.PathEscape(c.Agent)+"/kill", body, "agent", c.Agent, "kill the sessions of agent "+c.Agent)
		if err != nil {
			return err
		}
		if c.JSON {
			return printRaw(out, raw, "{}")
		}
		n, ok := decodeKilled(raw)
		if !ok {
			return fmt.Errorf("kill the sessions of agent %s: the API's answer has no killed count: %s", c.Agent, clip(string(raw), 200))
		}
		_, err = fmt.Fprintf(out, "killed %d %s of agent %s\n", n, plural(n, "session"), c.Agent)
		return err
	}
	id := c.Session
	var raw json.RawMessage
	err = byPrefix("session", c.Session, apiSessionIDs(ctx, cl), apiNotFound, func(whole string) (err error) {
		id = whole
		raw, err = cl.post(ctx, "/v1/sessions/"+url.PathEscape(id)+"/kill", body, "session", id, "kill session "+id)
		return err
	})
	if err != nil {
		return err
	}
	if c.JSON {
		return printRaw(out, raw, "{}")
	}
	_, err = fmt.Fprintf(out, "killed session %s\n", id)
	return err
}

// plural adds an s to word unless n is 1.
func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
