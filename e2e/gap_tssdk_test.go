package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
	"github.com/warden-dev/warden/workflows"
)

// denyWorkflow is the ladder's workflow with a rule that refuses big
// payments outright.
const denyWorkflow = ladderWorkflow + `rules:
  - name: too-big
    when: 'call.tool == "pay" && args.amount > 100'
    action: deny
    reason: payments over 100 are never made by this agent
`

// tsStep is one line of fixtures/tsclient/client.mjs's output.
type tsStep struct {
	Step    string   `json:"step"`
	Session *string  `json:"session"`
	Server  string   `json:"server"`
	Tools   []string `json:"tools"`
	IsError bool     `json:"isError"`
	Text    string   `json:"text"`
}

// runTSClient runs the TypeScript SDK agent against url with Node 22 and
// returns its steps by name; stdin is what it reads, to abort its call of
// block.
func runTSClient(t *testing.T, url, token, amount string, stdin io.Reader) map[string]tsStep {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	script := filepath.Join(e2eDir(t), "fixtures", "tsclient", "client.mjs")
	cmd := exec.CommandContext(ctx, node22(t), script, url, amount)
	cmd.Env = append(os.Environ(), "WARDEN_AGENT_TOKEN="+token)
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("the TypeScript SDK agent: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	steps := map[string]tsStep{}
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		var s tsStep
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatalf("the agent printed %q: %v", sc.Text(), err)
		}
		steps[s.Step] = s
	}
	return steps
}

// TestTypeScriptSDKClient: an agent built on the official TypeScript SDK
// (Client + StreamableHTTPClientTransport, bearer token) works through
// warden unchanged: it initialises, lists the upstream's tools, makes an
// allowed call and gets its result, gets a tool error for a call the
// policy denies (which never reaches the upstream), and ends its session.
// warden's history has it all under the agent's name.
func TestTypeScriptSDKClient(t *testing.T) {
	wf, err := workflows.Parse("wf.yaml", []byte(denyWorkflow))
	if err != nil {
		t.Fatal(err)
	}
	l := newLadder(t, func(o *supervisor.Options) {
		o.Policies = map[string]*supervisor.Policy{"ops": {Workflow: wf}}
	})
	// The agent aborts its call of block once the upstream has it, and
	// ends its session once the upstream has seen the abort (or the wait
	// is over): a cancellation by the session's end must not pass for it.
	abort, aborter := io.Pipe()
	sawAbort := make(chan bool, 1)
	go func() {
		defer aborter.Close()
		select {
		case <-l.Up.started:
			_, _ = aborter.Write([]byte("abort\n"))
		case <-time.After(30 * time.Second):
			sawAbort <- false
			return
		}
		select {
		case <-l.Up.cancelled:
			sawAbort <- true
		case <-time.After(30 * time.Second):
			sawAbort <- false
		}
	}()
	steps := runTSClient(t, l.URL, opsToken, "500", abort)

	init := steps["initialize"]
	if init.Session == nil || *init.Session == "" {
		t.Fatalf("initialize = %+v, want a session id", init)
	}
	sid := *init.Session
	if got := steps["tools/list"].Tools; !slices.Equal(got, []string{"block", "echo", "pay"}) {
		t.Fatalf("tools/list = %v, want block, echo, pay", got)
	}
	if s := steps["echo"]; s.IsError || s.Text != "echo: from typescript" {
		t.Fatalf("echo = %+v", s)
	}
	if s := steps["pay"]; !s.IsError || !strings.Contains(s.Text, "deny") || !strings.Contains(s.Text, "payments over 100 are never made by this agent") {
		t.Fatalf("pay = %+v, want a tool error saying it was denied and why", s)
	}
	if !<-sawAbort {
		t.Fatalf("the upstream's block never saw the agent's abort; the agent got %+v", steps["block"])
	}
	if s := steps["block"]; !s.IsError || !strings.Contains(s.Text, "aborted") {
		t.Fatalf("block = %+v, want the SDK's abort", s)
	}
	if _, ok := steps["close"]; !ok {
		t.Fatalf("the agent did not close cleanly: %+v", steps)
	}
	if n := l.Up.paid.Load(); n != 0 {
		t.Fatalf("the denied payment reached the upstream %d times", n)
	}

	rec, err := l.Store.Session(t.Context(), sid)
	if err != nil || rec.Agent != "ops" || rec.ClientName != "ts-sdk-agent" || rec.State != store.StateEnded {
		t.Fatalf("session record = %+v %v, want ops's ts-sdk-agent session, ended by its DELETE", rec, err)
	}
	evs, _ := l.timeline(t, sid)
	echo, echoRes := callOf(evs, "echo")
	pay, payRes := callOf(evs, "pay")
	if echo == nil || echo.Verdict != "allow" || echoRes == nil || !echoRes.OK {
		t.Fatalf("echo on the chain: call %+v, result %+v", echo, echoRes)
	}
	if pay == nil || pay.Verdict != "deny" || !strings.Contains(strings.Join(pay.Reasons, "; "), "payments over 100") || payRes != nil {
		t.Fatalf("pay on the chain: call %+v, result %+v; want denied with the rule's reason and no result", pay, payRes)
	}
	if _, blockRes := callOf(evs, "block"); blockRes == nil || blockRes.OK || !strings.Contains(blockRes.Error, "cancelled by the agent") {
		t.Fatalf("block's result on the chain = %+v, want it cancelled by the agent", blockRes)
	}
}
