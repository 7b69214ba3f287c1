package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/warden-dev/warden/config"
	"github.com/warden-dev/warden/examples"
	"github.com/warden-dev/warden/internal/demo"
	"github.com/warden-dev/warden/notify"
	"github.com/warden-dev/warden/store"
)

type demoCmd struct {
	Keep bool   `help:"Keep serving after the scenario, so that you can connect your own MCP client."`
	Data string `help:"Directory for the demo's history (default: a new one under the system's temporary directory, kept after exit)."`
}

func (c *demoCmd) Run(g *cli) error {
	out := g.stdout()
	dataDir, made, err := demoDir(c.Data)
	if err != nil {
		return err
	}
	upURL, stopUp, err := serveDemoUpstream()
	if err != nil {
		return err
	}
	defer stopUp()

	token, adminToken, hookSecret := randomToken(), randomToken(), randomToken()
	// The approver outlives warden (deferred first, stopped last), so that
	// warden's last webhook deliveries find it.
	approver := &demoApprover{token: adminToken, secret: []byte(hookSecret), heard: make(chan string, 1)}
	hookURL, stopHook, err := serveLoopback(approver)
	if err != nil {
		return err
	}
	defer stopHook()
	sum, adminSum := sha256.Sum256([]byte(token)), sha256.Sum256([]byte(adminToken))
	wfFile := filepath.Join(dataDir, "support.yaml")
	if err := os.WriteFile(wfFile, examples.SupportWorkflow, 0o600); err != nil {
		return err
	}
	cfgFile := filepath.Join(dataDir, "demo.yaml")
	text := demo.Config(upURL, hookURL, dataDir, hex.EncodeToString(sum[:]), hex.EncodeToString(adminSum[:]), wfFile)
	if err := os.WriteFile(cfgFile, text, 0o600); err != nil {
		return err
	}
	cfg, err := config.Parse(cfgFile, text, func(name string) string {
		if name == demo.WebhookSecretEnv {
			return hookSecret
		}
		return os.Getenv(name)
	})
	if err != nil {
		return fmt.Errorf("demo configuration: %w", err)
	}
	logger := newLogger(os.Stderr, g, cfg.Log.Level, cfg.Log.Format)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var scenarioErr error
	// The scripted agent is warden's background work: warden stops it, and
	// waits for it, before closing what it uses; scenarioErr is read after.
	err = serve(ctx, cfg, logger, func(a *app, at endpoints) {
		a.bg.Go(func(ctx context.Context) {
			approver.setAdmin(at.Admin)
			scenarioErr = runScenario(ctx, out, a, at.MCP, token, approver)
			if c.Keep && scenarioErr == nil {
				fmt.Fprintf(out, "\nwarden keeps serving (Ctrl-C to stop). Connect your own MCP client:\n  URL:   %s\n  token: %s   (Authorization: Bearer <token>)\n  admin API: %s (admin token %s)\n", at.MCP, token, at.Admin, adminToken)
				return
			}
			cancel()
		})
	})
	if err != nil {
		return err
	}
	if scenarioErr != nil && !c.Keep {
		return scenarioErr
	}
	fmt.Fprintf(out, "\nhistory: %s\n  warden sessions ls --db %s\n  warden verify --db %s\n", dbPath(cfg), dbPath(cfg), dbPath(cfg))
	if made {
		fmt.Fprintf(out, "the demo's folder (its config, workflow and history) stays; remove it with:\n  rm -r %s\n", dataDir)
	}
	return scenarioErr
}

// demoDir is the folder for the demo's files: dir, made if missing, or a
// new one under the temporary directory. made says whether the demo made
// it (and so may tell the user to remove it).
func demoDir(dir string) (path string, made bool, err error) {
	if dir == "" {
		d, err := os.MkdirTemp("", "warden-demo-")
		if err != nil {
			return "", false, fmt.Errorf("demo: data directory: %w", err)
		}
		return d, true, nil
	}
	if _, err := os.Stat(dir); err == nil {
		return dir, false, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", false, fmt.Errorf("demo: data directory: %w", err)
	}
	return dir, true, nil
}

// runScenario plays the scripted agent against warden and shows, step by
// step, what warden decided and recorded. It fails when a verdict is not
// the one the script expects, so the demo doubles as a smoke test.
func runScenario(ctx context.Context, w io.Writer, a *app, mcpURL, token string, approver *demoApprover) error {
	fmt.Fprintf(w, "warden demo: a support agent works through warden at %s\n", mcpURL)
	fmt.Fprintf(w, "upstream %q offers %d tools; the agent's workflow is examples/workflows/support.yaml.\n", "desk", len(a.hub.Catalog().Tools))
	fmt.Fprintf(w, "Every call is decided, recorded (fsync'd, hash-chained), and then forwarded or refused.\n\n")
	seen := 0
	var surprises []string
	observe := func(sessionID string, step demo.Step, res *mcp.CallToolResult, err error) {
		args, _ := jsonCompact(step.Args)
		said := ""
		if step.Expect == "step_up" {
			said = approver.heardOf(ctx)
		}
		if step.Resource != "" {
			step.Tool, args = "resources/read", step.Resource
		}
		fmt.Fprintf(w, "agent  ▸ %s\n         %s %s\n", step.Say, step.Tool, args)
		got := "session ended"
		evs, _ := a.db.Events(ctx, sessionID)
		for _, e := range evs[min(seen, len(evs)):] {
			if e.Kind == store.KindCall || e.Kind == store.KindResourceRead {
				got = e.Verdict
				why := ""
				if len(e.Reasons) > 0 {
					why = ": " + strings.Join(e.Reasons, "; ")
				}
				fmt.Fprintf(w, "warden ▸ %s%s\n         (event %d, hash %s…)\n", strings.ToUpper(e.Verdict), why, e.Seq, e.Hash[:12])
				if said != "" {
					fmt.Fprintf(w, "human  ▸ %s\n", said)
				}
			}
		}
		seen = len(evs)
		switch {
		case err != nil:
			fmt.Fprintf(w, "result ▸ error: %v\n\n", err)
		case res.IsError:
			fmt.Fprintf(w, "result ▸ tool error: %s\n\n", demo.Summary(res))
		default:
			fmt.Fprintf(w, "result ▸ %s\n\n", demo.Summary(res))
		}
		if got != step.Expect {
			surprises = append(surprises, fmt.Sprintf("%s: got %s, want %s", step.Say, got, step.Expect))
		}
	}
	before := func(step demo.Step) { approver.expect(step.Approve) }
	sessionID, err := demo.RunAgent(ctx, mcpURL, token, before, observe)
	if err != nil {
		return err
	}
	v, err := localHistory{a.db}.Session(ctx, sessionID)
	if err != nil {
		return fmt.Errorf("demo: the session was not recorded: %w", err)
	}
	fmt.Fprintln(w, "the session as recorded (warden sessions show):")
	printTimeline(w, v)
	rep, err := a.db.Verify(ctx)
	if err != nil {
		return err
	}
	if len(rep.Broken) > 0 {
		return fmt.Errorf("demo: history failed verification: %+v", rep.Broken)
	}
	fmt.Fprintf(w, "\nwarden verify: intact (%d sessions, %d events)\n", rep.Sessions, rep.Events)
	if len(surprises) > 0 {
		return fmt.Errorf("demo: warden did not decide as the script expects:\n  %s", strings.Join(surprises, "\n  "))
	}
	return nil
}

// demoApprover plays the human approver as a real one would: warden's
// signed webhook tells it of a held call, and it decides through the admin
// API, or lets the call time out, as the script says for that step.
type demoApprover struct {
	token  string
	secret []byte
	heard  chan string // what it did about the last held call; buffer of one

	mu      sync.Mutex
	base    string // the admin API
	approve bool   // what to do with the next held call
}

func (d *demoApprover) setAdmin(base string) {
	d.mu.Lock()
	d.base = base
	d.mu.Unlock()
}

// expect says what to do with the next held call, and forgets anything
// heard of an earlier one.
func (d *demoApprover) expect(approve bool) {
	d.mu.Lock()
	d.approve = approve
	d.mu.Unlock()
	select {
	case <-d.heard:
	default:
	}
}

// heardOf returns what the approver did about the held call, waiting for
// its webhook if it has not come yet.
func (d *demoApprover) heardOf(ctx context.Context) string {
	select {
	case said := <-d.heard:
		return said
	case <-ctx.Done():
		return ""
	case <-time.After(10 * time.Second):
		return "heard of no held call"
	}
}

// ServeHTTP receives warden's webhooks. It checks the signature, and
// answers a held call once it has decided it.
func (d *demoApprover) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := notify.Verify(d.secret, r.Header.Get("Warden-Signature"), body, time.Now(), time.Minute); err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var m notify.Message
	if err := json.Unmarshal(body, &m); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if m.Type == notify.TypeApprovalRequested && m.Approval != nil {
		d.decide(r.Context(), m.Approval.ID)
	}
	w.WriteHeader(http.StatusNoContent)
}

// decide approves a held call once, or leaves it, as expected.
func (d *demoApprover) decide(ctx context.Context, id string) {
	d.mu.Lock()
	approve := d.approve
	d.mu.Unlock()
	say := "hears of approval " + id[:8] + "… (webhook) and does nothing: it times out"
	if approve {
		body := map[string]string{"decision": store.DecisionOnce, "by": "demo approver"}
		if err := d.call(ctx, http.MethodPost, "/v1/approvals/"+id+"/decision", body, nil); err != nil {
			say = "could not approve: " + err.Error()
		} else {
			say = "hears of it (webhook) and approves it once through the admin API (POST /v1/approvals/" + id[:8] + "…/decision)"
		}
	}
	select {
	case d.heard <- say:
	default: // the script did not wait for this one
	}
}

func (d *demoApprover) call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	d.mu.Lock()
	base := d.base
	d.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+d.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("admin API: %s", resp.Status)
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// serveDemoUpstream runs the demo's support-desk MCP server on loopback
// and returns its endpoint.
func serveDemoUpstream() (string, func(), error) {
	mux := http.NewServeMux()
	mux.Handle("/mcp", server.NewStreamableHTTPServer(demo.NewUpstream().Server(),
		server.WithStreamableHTTPProtocolVersions("2025-11-25", "2025-06-18", "2025-03-26")))
	base, stop, err := serveLoopback(mux)
	return base + "/mcp", stop, err
}

// serveLoopback serves h on a free loopback port until the returned stop,
// which waits for the server's goroutine.
func serveLoopback(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	var serving sync.WaitGroup
	serving.Go(func() { _ = srv.Serve(ln) })
	return "http://" + ln.Addr().String(), func() { _ = srv.Close(); serving.Wait() }, nil
}

func randomToken() string {
	var b [18]byte
	_, _ = rand.Read(b[:])
	return "demo_" + hex.EncodeToString(b[:])
}

func jsonCompact(v any) (string, error) {
	var sb strings.Builder
	enc := jsonEncoder(&sb)
	err := enc.Encode(v)
	return strings.TrimSpace(sb.String()), err
}
