package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/charmbracelet/log"
	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/warden-dev/warden/admin"
	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/notify"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
	"github.com/warden-dev/warden/tools"
	"github.com/warden-dev/warden/workflows"
)

// The response ladder's harness: an upstream with a tool that waits for
// its cancellation, a workflow whose guard holds big payments for an
// approver, a webhook receiver that checks every signature, and warden
// with its admin API served where the decision links point.

const (
	opsToken   = "ops-token-0123456789abcdef"
	adminToken = "admin-token-0123456789abcdef"
)

var (
	hookSecret = []byte("webhook-secret-0123456789abcdef")
	linkSecret = []byte("link-secret-0123456789abcdef0123")
)

// ladderWorkflow allows echo and block at any time, and pay up to 10; a
// bigger payment steps up (the workflow's on_violation).
const ladderWorkflow = `
agent: ops
purpose: pay small amounts; anything bigger needs a human
on_violation: step_up
start: [echo]
anytime: [echo, pay, block]
steps:
  - name: echo
    tool: echo
    next: ["*"]
  - name: pay
    tool: pay
    guard: "args.amount <= 10"
    next: ["*"]
  - name: block
    tool: block
    next: ["*"]
`

func ladderPolicy(t *testing.T) *supervisor.Policy {
	t.Helper()
	wf, err := workflows.Parse("wf.yaml", []byte(ladderWorkflow))
	if err != nil {
		t.Fatalf("parse workflow: %v", err)
	}
	return &supervisor.Policy{Workflow: wf}
}

// ladderUpstream is a real MCP server over HTTP. block answers only when
// its context is cancelled, and says so on cancelled.
type ladderUpstream struct {
	URL       string
	paid      atomic.Int64 // calls of pay that reached the upstream
	started   chan struct{}
	cancelled chan struct{}
}

func newLadderUpstream(t *testing.T) *ladderUpstream {
	t.Helper()
	u := &ladderUpstream{started: make(chan struct{}, 16), cancelled: make(chan struct{}, 16)}
	s := server.NewMCPServer("ops", "1.0.0", server.WithToolCapabilities(true))
	s.AddTool(mcp.NewTool("echo", mcp.WithString("message", mcp.Required())),
		func(_ context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultText("echo: " + req.GetString("message", "")), nil
		})
	s.AddTool(mcp.NewTool("pay", mcp.WithNumber("amount", mcp.Required()), mcp.WithString("to")),
		func(_ context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			u.paid.Add(1)
			return mcp.NewToolResultText(fmt.Sprintf("paid %v to %s", req.GetFloat("amount", 0), req.GetString("to", "?"))), nil
		})
	s.AddTool(mcp.NewTool("block", mcp.WithDescription("Answers only when cancelled.")),
		func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			u.started <- struct{}{}
			select {
			case <-ctx.Done():
				u.cancelled <- struct{}{}
				return nil, ctx.Err()
			case <-time.After(time.Minute):
				return mcp.NewToolResultText("never cancelled"), nil
			}
		})
	u.URL = serveUpstream(t, s)
	return u
}

// delivery is one webhook as received.
type delivery struct {
	Header string
	Body   []byte
	Msg    notify.Message
}

// hookReceiver is the approvers' webhook endpoint: it checks every
// delivery's signature with notify.Verify and keeps the messages.
type hookReceiver struct {
	URL string
	mu  sync.Mutex
	got []delivery
	bad []string
}

func newHookReceiver(t *testing.T) *hookReceiver {
	t.Helper()
	h := &hookReceiver{}
	h.URL = serveHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		sig := r.Header.Get(notify.HeaderSignature)
		if err := notify.Verify(hookSecret, sig, body, time.Now(), 5*time.Minute); err != nil {
			h.mu.Lock()
			h.bad = append(h.bad, err.Error())
			h.mu.Unlock()
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var m notify.Message
		if err := json.Unmarshal(body, &m); err != nil {
			h.mu.Lock()
			h.bad = append(h.bad, "undecodable body: "+err.Error())
			h.mu.Unlock()
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if r.Header.Get(notify.HeaderEvent) != m.Type {
			h.mu.Lock()
			h.bad = append(h.bad, fmt.Sprintf("event header %q for a %q message", r.Header.Get(notify.HeaderEvent), m.Type))
			h.mu.Unlock()
		}
		h.mu.Lock()
		h.got = append(h.got, delivery{Header: sig, Body: body, Msg: m})
		h.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if len(h.bad) > 0 {
			t.Errorf("webhook deliveries that failed verification: %v", h.bad)
		}
	})
	return h
}

// wait returns the first delivery that matches, polling until d passes.
func (h *hookReceiver) wait(t *testing.T, d time.Duration, what string, match func(notify.Message) bool) delivery {
	t.Helper()
	var found delivery
	waitFor(t, d, "webhook "+what, func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, g := range h.got {
			if match(g.Msg) {
				found = g
				return true
			}
		}
		return false
	})
	return found
}

// requested waits for the approval.requested of a call in session sid.
func (h *hookReceiver) requested(t *testing.T, sid string) notify.Message {
	t.Helper()
	return h.wait(t, 10*time.Second, "approval.requested for "+sid, func(m notify.Message) bool {
		return m.Type == notify.TypeApprovalRequested && m.Session == sid
	}).Msg
}

// ladder is a running warden with its admin API, webhook receiver and
// upstream.
type ladder struct {
	*wardenUnderTest
	Admin string // the admin API's base URL
	Hook  *hookReceiver
	Up    *ladderUpstream
	stop  func()
}

// ladderOpts are the options every ladder warden gets: approvals with
// webhooks and links, the ladder policy for ops.
func ladderOpts(t *testing.T, hook *hookReceiver, admin string) func(*supervisor.Options) {
	return func(o *supervisor.Options) {
		o.Policies = map[string]*supervisor.Policy{"ops": ladderPolicy(t)}
		o.Escalation.Approvals = true
		o.Escalation.ApprovalTimeout = 30 * time.Second
		o.Escalation.LinkSecret = linkSecret
		o.Escalation.PublicURL = admin
		if hook != nil {
			snd, err := notify.New(notify.Options{URLs: []string{hook.URL}, Secret: hookSecret, Timeout: 2 * time.Second,
				Backoff: 50 * time.Millisecond, Logger: log.New(io.Discard)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = snd.Close(context.Background()) })
			o.Escalation.Notifier = snd
		}
	}
}

// startLadder starts warden on the bbolt file at dbPath (made if absent)
// in front of up, with the admin API on its own port. stop closes warden
// and its store, so that a second startLadder on the same file is a
// restart; it also runs at cleanup.
func startLadder(t *testing.T, dbPath string, up *ladderUpstream, hook *hookReceiver, tweak ...func(*supervisor.Options)) *ladder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adminURL := "http://" + ln.Addr().String()
	agents := []supervisor.Agent{
		{Name: "ops", TokenSHA256: hashToken(opsToken)},
		{Name: "other", TokenSHA256: hashToken("other-token-0123456789abcdef")},
	}
	quiet := func(o *supervisor.Options) {
		o.Logger = log.NewWithOptions(os.Stderr, log.Options{Level: log.ErrorLevel, Prefix: "warden"})
	}
	opts := append([]func(*supervisor.Options){quiet, ladderOpts(t, hook, adminURL)}, tweak...)
	w := startWardenOn(t, dbPath, []tools.Spec{{Name: "ops", URL: up.URL}}, agents, opts...)
	ah, err := admin.Handler(w.Sup, hashToken(adminToken))
	if err != nil {
		t.Fatal(err)
	}
	adminSrv := &http.Server{Handler: ah, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = adminSrv.Serve(ln) }()
	stop := sync.OnceFunc(func() {
		_ = adminSrv.Close()
		w.Stop()
	})
	t.Cleanup(stop)
	return &ladder{wardenUnderTest: w, Admin: adminURL, Hook: hook, Up: up, stop: stop}
}

// newLadder is a fresh warden, upstream and webhook receiver.
func newLadder(t *testing.T, tweak ...func(*supervisor.Options)) *ladder {
	t.Helper()
	return startLadder(t, filepath.Join(t.TempDir(), "warden.db"), newLadderUpstream(t), newHookReceiver(t), tweak...)
}

// admin calls the admin API with the admin token and decodes a 2xx
// answer into out (when not nil); it returns the status and the raw body.
func (l *ladder) admin(t *testing.T, method, path string, body any, out any) (int, string) {
	t.Helper()
	return testkit.Admin{Base: l.Admin, Token: adminToken}.Do(t, method, path, body, out)
}

// decide posts a decision on an approval through the admin API.
func (l *ladder) decide(t *testing.T, id, decision string) (int, string) {
	t.Helper()
	return l.admin(t, http.MethodPost, "/v1/approvals/"+id+"/decision", map[string]string{"decision": decision, "by": "alice"}, nil)
}

// pending waits until session sid has n pending approvals and returns them.
func (l *ladder) pending(t *testing.T, sid string, n int) []store.Approval {
	t.Helper()
	var list []store.Approval
	waitFor(t, 10*time.Second, fmt.Sprintf("%d pending approvals in %s", n, sid), func() bool {
		var err error
		list, err = l.Store.Approvals(context.Background(), store.ApprovalFilter{Session: sid, State: store.ApprovalPending})
		return err == nil && len(list) == n
	})
	return list
}

// callResult is the outcome of a call made in the background.
type callResult struct {
	res *mcp.CallToolResult
	err error
}

// callAsync calls a tool in the background (the call may be held) with
// an optional progress token.
func callAsync(c *client.Client, name string, args map[string]any, progress mcp.ProgressToken) <-chan callResult {
	out := make(chan callResult, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		req := mcp.CallToolRequest{}
		req.Params.Name = name
		req.Params.Arguments = args
		if progress != nil {
			req.Params.Meta = &mcp.Meta{ProgressToken: progress}
		}
		res, err := c.CallTool(ctx, req)
		out <- callResult{res, err}
	}()
	return out
}

// await waits for a background call's outcome.
func await(t *testing.T, ch <-chan callResult, d time.Duration) callResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(d):
		t.Fatalf("call did not end within %s", d)
		return callResult{}
	}
}

// stillOpen checks that a background call has not ended yet.
func stillOpen(t *testing.T, ch <-chan callResult) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("the held call ended before a decision: %+v %v", r.res, r.err)
	default:
	}
}

// events returns a session's timeline as kind:tool:verdict.
func (l *ladder) timeline(t *testing.T, sid string) ([]store.Event, []string) {
	t.Helper()
	evs, err := l.Store.Events(context.Background(), sid)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, strings.TrimRight(e.Kind+":"+e.Tool+":"+e.Verdict, ":"))
	}
	return evs, out
}

// ladderPost posts a JSON-RPC body to warden's MCP endpoint as session
// sid (none when empty) with extra headers, through hc (the default
// client when nil), and returns the status, body and headers.
func ladderPost(hc *http.Client, url, token, sid, body string, hdr map[string]string) (int, string, http.Header, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return 0, "", nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
	if sid != "" {
		req.Header.Set("Mcp-Session-Id", sid)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header, err
}
