package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
	"github.com/warden-dev/warden/tools"
	"github.com/warden-dev/warden/workflows"
)

// The policy lets mail go only to the company's addresses. It reads
// args.recipients and args.bcc; the upstream is a Go server whose typed
// handler binds the arguments to a struct, as encoding/json does: keys
// match case-insensitively, with Unicode folding.
const mailWorkflow = `
agent: mailer
purpose: send mail inside the company
on_violation: deny
start: [send]
anytime: [send]
steps:
  - name: send
    tool: send_email
    guard: >-
      all(args.recipients ?? [], # endsWith '@company.com') &&
      (args.bcc ?? '@company.com') endsWith '@company.com'
    next: ["*"]
`

// sendArgs is how the upstream reads a send_email call.
type sendArgs struct {
	Recipients []string `json:"recipients"`
	Bcc        string   `json:"bcc,omitempty"`
	Subject    string   `json:"subject"`
}

// mailUpstream is a Go MCP server with one typed tool; sent returns the
// arguments as its handler bound them, one entry per call it ran.
func mailUpstream(t *testing.T) (url string, sent func() []sendArgs) {
	t.Helper()
	var (
		mu  sync.Mutex
		got []sendArgs
	)
	s := server.NewMCPServer("mail", "1.0.0", server.WithToolCapabilities(true))
	s.AddTool(mcp.NewTool("send_email",
		mcp.WithArray("recipients", mcp.Required(), mcp.WithStringItems()),
		mcp.WithString("bcc"),
		mcp.WithString("subject", mcp.Required()),
	), mcp.NewTypedToolHandler(func(_ context.Context, _ mcp.CallToolRequest, a sendArgs) (*mcp.CallToolResult, error) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, a)
		return mcp.NewToolResultText("sent to " + strings.Join(a.Recipients, ",") + " bcc " + a.Bcc), nil
	}))
	return serveUpstream(t, s), func() []sendArgs {
		mu.Lock()
		defer mu.Unlock()
		return append([]sendArgs(nil), got...)
	}
}

// startMailWarden runs warden in front of the mail upstream for the
// mailer agent under mailWorkflow; keysOnly relaxes schema validation.
func startMailWarden(t *testing.T, upURL, token string, keysOnly bool) *wardenUnderTest {
	t.Helper()
	wf, err := workflows.Parse("mailer.yaml", []byte(mailWorkflow))
	if err != nil {
		t.Fatal(err)
	}
	return startWarden(t, []tools.Spec{{Name: "mail", URL: upURL}},
		[]supervisor.Agent{{Name: "mailer", TokenSHA256: hashToken(token)}},
		func(o *supervisor.Options) {
			o.Policies = map[string]*supervisor.Policy{"mailer": {Workflow: wf}}
			if keysOnly {
				o.KeysOnly = []string{"mail"}
			}
		})
}

// callRaw calls a tool with its arguments as exact JSON, so that a test
// can send what a map cannot hold (a key twice).
func callRaw(t *testing.T, c interface {
	CallTool(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error)
}, name, args string) *mcp.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := mcp.CallToolRequest{}
	req.Params.Name = name
	req.Params.RawArguments = json.RawMessage(args)
	res, err := c.CallTool(ctx, req)
	if err != nil {
		t.Fatalf("call %s %s: %v", name, args, err)
	}
	return res
}

// TestArgumentsMeanOneThing: arguments that the guard would read one way
// and the upstream's struct binding another are refused, recorded as
// denied with the reason, and never reach the upstream; so are arguments
// that break the tool's input schema, unless the operator relaxed that.
func TestArgumentsMeanOneThing(t *testing.T) {
	upURL, sent := mailUpstream(t)
	const token = "mailer-token-0123456789abcdef"
	w := startMailWarden(t, upURL, token, false)
	c := connect(t, w.URL, token)

	ok := `{"recipients":["emma@company.com"],"subject":"hi"}`
	if res := callRaw(t, c, "send_email", ok); res.IsError {
		t.Fatalf("a plain call was refused: %s", resultText(res))
	}
	attacks := []struct {
		name, args, why string
	}{
		{"long s folds to s", `{"recipients":["emma@company.com"],"recipientſ":["attacker@evil.com"],"subject":"hi"}`, `keys "recipients" and "recipientſ" are one key`},
		{"Kelvin sign folds to k", `{"recipients":["emma@company.com"],"subject":"hi","meta":{"kind":"a","` + "\u212a" + `ind":"b"}}`, "are one key"},
		{"repeated key", `{"recipients":["attacker@evil.com"],"subject":"hi","recipients":["emma@company.com"]}`, `key "recipients" appears twice`},
		{"Bcc beside declared bcc", `{"recipients":["emma@company.com"],"Bcc":"attacker@evil.com","subject":"hi"}`, `key "Bcc" is not declared, but a Go upstream would read it as the declared "bcc"`},
		{"schema violation", `{"recipients":["emma@company.com"]}`, "do not match the tool's input schema"},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			res := callRaw(t, c, "send_email", a.args)
			if !res.IsError || !strings.Contains(resultText(res), a.why) {
				t.Fatalf("send_email(%s) = %q (error %v); want a refusal saying %q", a.args, resultText(res), res.IsError, a.why)
			}
		})
	}
	if got := sent(); len(got) != 1 || strings.Join(got[0].Recipients, ",") != "emma@company.com" || got[0].Bcc != "" {
		t.Fatalf("the upstream ran %+v; want only the plain call", got)
	}

	// History: the plain call and its result, then each attack denied
	// with the checker's reason, arguments as sent.
	evs := sessionEvents(t, w, "mailer")
	var calls []store.Event
	for _, e := range evs {
		if e.Kind == store.KindCall {
			calls = append(calls, e)
		}
	}
	if len(calls) != 1+len(attacks) || calls[0].Verdict != "allow" {
		t.Fatalf("recorded calls = %+v; want the plain one and %d denied", calls, len(attacks))
	}
	for i, a := range attacks {
		e := calls[i+1]
		if e.Verdict != "deny" || len(e.Reasons) != 1 || !strings.Contains(e.Reasons[0], a.why) || e.Tool != "send_email" {
			t.Errorf("record of %s = %s %v on %s; want deny saying %q", a.name, e.Verdict, e.Reasons, e.Tool, a.why)
		}
		if !jsonEqualish(e.Args, a.args) {
			t.Errorf("record of %s keeps arguments %s; want them as sent, %s", a.name, e.Args, a.args)
		}
	}
}

// TestArgumentsKeysOnly: with validate_args: keys_only on the upstream, a
// call that breaks the schema goes through, but keys read two ways are
// still refused.
func TestArgumentsKeysOnly(t *testing.T) {
	upURL, sent := mailUpstream(t)
	const token = "mailer-token-0123456789abcdef"
	w := startMailWarden(t, upURL, token, true)
	c := connect(t, w.URL, token)

	if res := callRaw(t, c, "send_email", `{"recipients":["emma@company.com"]}`); res.IsError {
		t.Fatalf("with keys_only, a call missing a required property was refused: %s", resultText(res))
	}
	res := callRaw(t, c, "send_email", `{"recipients":["emma@company.com"],"recipientſ":["attacker@evil.com"],"subject":"hi"}`)
	if !res.IsError || !strings.Contains(resultText(res), "one key") {
		t.Fatalf("with keys_only, folded keys = %q; want a refusal", resultText(res))
	}
	res = callRaw(t, c, "send_email", `{"recipients":["emma@company.com"],"Bcc":"attacker@evil.com","subject":"hi"}`)
	if !res.IsError || !strings.Contains(resultText(res), `declared "bcc"`) {
		t.Fatalf("with keys_only, Bcc beside bcc = %q; want a refusal", resultText(res))
	}
	if got := sent(); len(got) != 1 || got[0].Subject != "" {
		t.Fatalf("the upstream ran %+v; want only the call without a subject", got)
	}
}

// TestUnknownToolsAreRecorded: calls to names that no upstream offers
// (a case variant, a zero-width character, another upstream's prefix) are
// refused and on record as denied attempts, like calls to hidden tools.
func TestUnknownToolsAreRecorded(t *testing.T) {
	upURL, sent := mailUpstream(t)
	const token = "mailer-token-0123456789abcdef"
	w := startMailWarden(t, upURL, token, false)
	c := connect(t, w.URL, token)

	names := []string{"Send_Email", "send_email\u200b", "files_send_email"}
	for _, n := range names {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		req := mcp.CallToolRequest{}
		req.Params.Name = n
		req.Params.Arguments = map[string]any{"recipients": []string{"attacker@evil.com"}, "subject": "x"}
		res, err := c.CallTool(ctx, req)
		cancel()
		if err == nil && !res.IsError {
			t.Fatalf("call of %q went through: %s", n, resultText(res))
		}
	}
	if got := sent(); len(got) != 0 {
		t.Fatalf("the upstream ran %+v", got)
	}
	var got []string
	for _, e := range sessionEvents(t, w, "mailer") {
		if e.Kind != store.KindCall {
			continue
		}
		if e.Verdict != "deny" || len(e.Reasons) != 1 || !strings.Contains(e.Reasons[0], "does not exist") {
			t.Errorf("record of %q = %s %v; want deny, does not exist", e.Tool, e.Verdict, e.Reasons)
		}
		got = append(got, e.Tool)
	}
	if strings.Join(got, "|") != strings.Join(names, "|") {
		t.Fatalf("recorded attempts %q; want %q", got, names)
	}
}

// sessionEvents returns the events of the agent's one session.
func sessionEvents(t *testing.T, w *wardenUnderTest, agent string) []store.Event {
	t.Helper()
	ctx := context.Background()
	sessions, err := w.Store.Sessions(ctx, store.Filter{Agent: agent})
	if err != nil || len(sessions) != 1 {
		t.Fatalf("sessions of %s = %v, %v; want 1", agent, sessions, err)
	}
	evs, err := w.Store.Events(ctx, sessions[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// jsonEqualish reports whether got is want, ignoring insignificant space.
func jsonEqualish(got json.RawMessage, want string) bool {
	return strings.ReplaceAll(string(got), " ", "") == strings.ReplaceAll(want, " ", "")
}
