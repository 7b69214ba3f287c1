package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/warden-dev/warden/store"
)

// approvalsCmd groups the commands on held calls (step-ups).
type approvalsCmd struct {
	Ls      approvalsLsCmd      `cmd:"" help:"List approvals, newest first."`
	Show    approvalsShowCmd    `cmd:"" help:"Show one approval: the held call, its reasons and any decision."`
	Approve approvalsApproveCmd `cmd:"" help:"Let a held call go ahead."`
	Deny    approvalsDenyCmd    `cmd:"" help:"Refuse a held call."`
}

type approvalsLsCmd struct {
	adminFlags
	State   string `help:"Only approvals in this state: pending, approved, denied or expired." enum:"pending,approved,denied,expired," default:""`
	Agent   string `help:"Only this agent's approvals."`
	Session string `help:"Only this session's approvals (its id, or a unique prefix of it)."`
	Limit   int    `help:"At most this many (0: the API's default)." default:"0"`
}

func (c *approvalsLsCmd) Run() error { return runAdmin(c) }

func (c *approvalsLsCmd) run(ctx context.Context, out io.Writer, getenv func(string) string) error {
	if c.Limit < 0 {
		return fmt.Errorf("--limit must not be negative, got %d", c.Limit)
	}
	cl, err := c.client(getenv)
	if err != nil {
		return err
	}
	session, err := filterID("session", c.Session, apiSessionIDs(ctx, cl))
	if err != nil {
		return err
	}
	q := url.Values{}
	for k, v := range map[string]string{"state": c.State, "agent": c.Agent, "session": session} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if c.Limit > 0 {
		q.Set("limit", strconv.Itoa(c.Limit))
	}
	var list []store.Approval
	raw, err := cl.call(ctx, http.MethodGet, "/v1/approvals", q, nil, &list)
	if err != nil {
		return err
	}
	if c.JSON {
		return printRaw(out, raw, "[]")
	}
	if len(list) == 0 {
		_, err := fmt.Fprintln(out, "no approvals")
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tAGENT\tSESSION\tTOOL\tCREATED\tEXPIRES\tREASONS")
	for _, a := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.ID, stateOf(a), a.Agent, a.Session, a.Tool,
			when(a.Created), when(a.Expires), clip(strings.Join(a.Reasons, "; "), 80))
	}
	return tw.Flush()
}

type approvalsShowCmd struct {
	adminFlags
	ID string `arg:"" help:"Approval id, or a prefix of it that no other approval's id starts with."`
}

func (c *approvalsShowCmd) Run() error { return runAdmin(c) }

func (c *approvalsShowCmd) run(ctx context.Context, out io.Writer, getenv func(string) string) error {
	cl, err := c.client(getenv)
	if err != nil {
		return err
	}
	var a store.Approval
	var raw json.RawMessage
	err = byPrefix("approval", c.ID, apiApprovalIDs(ctx, cl), apiNotFound, func(id string) (err error) {
		raw, err = cl.call(ctx, http.MethodGet, "/v1/approvals/"+url.PathEscape(id), nil, nil, &a)
		return err
	})
	if statusOf(err) == http.StatusNotFound {
		return fmt.Errorf("no approval %q: %w", c.ID, err)
	}
	if err != nil {
		return err
	}
	if c.JSON {
		return printRaw(out, raw, "{}")
	}
	printApproval(out, a)
	return nil
}

// printApproval writes an approval as a person reads it.
func printApproval(w io.Writer, a store.Approval) {
	fmt.Fprintf(w, "approval %s  %s\n", a.ID, stateOf(a))
	fmt.Fprintf(w, "  agent    %s\n  session  %s\n", a.Agent, a.Session)
	call := a.Tool
	if a.Upstream != "" {
		call += " (upstream " + a.Upstream + ")"
	}
	if a.CallID != "" {
		call += "  call " + a.CallID
	}
	fmt.Fprintf(w, "  tool     %s\n", call)
	if len(a.Args) > 0 {
		fmt.Fprintf(w, "  args     %s\n", clip(string(a.Args), 2000))
	}
	fmt.Fprintf(w, "  digest   %s\n", a.ArgsDigest)
	for i, r := range a.Reasons {
		label := "         "
		if i == 0 {
			label = "  reasons"
		}
		fmt.Fprintf(w, "%s  %s\n", label, r)
	}
	fmt.Fprintf(w, "  created  %s\n  expires  %s\n", when(a.Created), when(a.Expires))
	if a.Decision != "" {
		fmt.Fprintf(w, "  decided  %s by %s at %s\n", a.Decision, a.DecidedBy, when(a.DecidedAt))
	}
	if a.Note != "" {
		fmt.Fprintf(w, "  note     %s\n", a.Note)
	}
}

// stateOf is the state, with the decision when there is one.
func stateOf(a store.Approval) string {
	if a.Decision != "" {
		return a.State + " (" + a.Decision + ")"
	}
	return a.State
}

// when formats a time for people, in local time.
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format(time.DateTime)
}

// decisionFlags are what every decision carries.
type decisionFlags struct {
	By   string `help:"Who decides, recorded with the decision (default: $USER@hostname)."`
	Note string `help:"A note recorded with the decision."`
}

type approvalsApproveCmd struct {
	adminFlags
	decisionFlags
	ID         string `arg:"" help:"Approval id, or a prefix of it that no other approval's id starts with."`
	ForSession bool   `help:"Also allow this step for the rest of the session, not just this call."`
}

func (c *approvalsApproveCmd) Run() error { return runAdmin(c) }

func (c *approvalsApproveCmd) run(ctx context.Context, out io.Writer, getenv func(string) string) error {
	d := store.DecisionOnce
	if c.ForSession {
		d = store.DecisionSession
	}
	return decide(ctx, out, getenv, c.adminFlags, c.decisionFlags, c.ID, d)
}

type approvalsDenyCmd struct {
	adminFlags
	decisionFlags
	ID   string `arg:"" help:"Approval id, or a prefix of it that no other approval's id starts with."`
	Kill bool   `help:"Also kill the session."`
}

func (c *approvalsDenyCmd) Run() error { return runAdmin(c) }

func (c *approvalsDenyCmd) run(ctx context.Context, out io.Writer, getenv func(string) string) error {
	d := store.DecisionDeny
	if c.Kill {
		d = store.DecisionDenyKill
	}
	return decide(ctx, out, getenv, c.adminFlags, c.decisionFlags, c.ID, d)
}

// decisionRequest is the body of POST /v1/approvals/{id}/decision.
type decisionRequest struct {
	Decision string `json:"decision"`
	By       string `json:"by"`
	Note     string `json:"note,omitempty"`
}

// decide posts a decision and reports the outcome, turning the API's
// refusals into messages about the approval.
func decide(ctx context.Context, out io.Writer, getenv func(string) string, f adminFlags, df decisionFlags, id, decision string) error {
	cl, err := f.client(getenv)
	if err != nil {
		return err
	}
	by := byOrMe(df.By, getenv)
	var a store.Approval
	var raw json.RawMessage
	err = byPrefix("approval", id, apiApprovalIDs(ctx, cl), apiNotFound, func(whole string) (err error) {
		raw, err = cl.call(ctx, http.MethodPost, "/v1/approvals/"+url.PathEscape(whole)+"/decision", nil,
			decisionRequest{Decision: decision, By: by, Note: df.Note}, &a)
		return err
	})
	switch statusOf(err) {
	case 0:
	case http.StatusNotFound:
		return fmt.Errorf("no approval %q: %w", id, err)
	case http.StatusConflict:
		return fmt.Errorf("approval %s was already decided; a decision is used once: %w", id, err)
	case http.StatusGone:
		return fmt.Errorf("approval %s has expired: its call is no longer held: %w", id, err)
	}
	if err != nil {
		return fmt.Errorf("decide approval %s: %w", id, err)
	}
	if f.JSON {
		return printRaw(out, raw, "{}")
	}
	_, err = fmt.Fprintln(out, decidedMessage(a, id, decision, by))
	return err
}

// decidedMessage says what a decision did.
func decidedMessage(a store.Approval, id, decision, by string) string {
	if a.ID != "" {
		id = a.ID
	}
	if a.DecidedBy != "" {
		by = a.DecidedBy
	}
	tool := ""
	if a.Tool != "" {
		tool = " (" + a.Tool + ")"
	}
	switch decision {
	case store.DecisionOnce:
		return fmt.Sprintf("approved %s%s once, by %s", id, tool, by)
	case store.DecisionSession:
		return fmt.Sprintf("approved %s%s for the rest of session %s, by %s", id, tool, a.Session, by)
	case store.DecisionDenyKill:
		return fmt.Sprintf("denied %s%s and killed session %s, by %s", id, tool, a.Session, by)
	}
	return fmt.Sprintf("denied %s%s, by %s", id, tool, by)
}

// decodeKilled reads the "killed" count some answers carry.
func decodeKilled(raw json.RawMessage) (int, bool) {
	var m struct {
		Killed *int `json:"killed"`
	}
	if json.Unmarshal(raw, &m) != nil || m.Killed == nil {
		return 0, false
	}
	return *m.Killed, true
}
