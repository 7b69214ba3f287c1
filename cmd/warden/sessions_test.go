package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/log"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/warden-dev/warden/config"
	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/store"
)

// TestSessionsShowIsTheSameThroughTheAPIAndTheFile records a session with
// a real warden, shows it through the admin API while warden runs and from
// the history file once it has stopped, and compares: the same lines, the
// file's ending with the shutdown warden recorded since. The session list
// is the same too: its LAST SEEN is the agent's last request, which the
// shutdown does not move.
func TestSessionsShowIsTheSameThroughTheAPIAndTheFile(t *testing.T) {
	upURL, stopUp, err := serveDemoUpstream()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stopUp)
	dir := t.TempDir()
	t.Setenv("WARDEN_ADMIN_TOKEN", "admin-secret-token")
	at, stop := serveWithAdmin(t, dir, configText(upURL, dir, ""))
	cfgPath := filepath.Join(dir, "warden.yaml")

	c := dialAgent(t, at.MCP) // left open: the session is live when warden stops
	// Several arguments, and characters encoding/json escapes as HTML.
	req := mcp.CallToolRequest{}
	req.Params.Name = "issue_refund"
	req.Params.Arguments = map[string]any{"customer_id": "C-1001 <vip> & co", "iban": "DE00 1234", "amount": 12.5}
	if _, err := c.CallTool(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	rr := mcp.ReadResourceRequest{}
	rr.Params.URI = "kb://files/policies/refunds.md"
	if _, err := c.ReadResource(context.Background(), rr); err != nil {
		t.Fatal(err)
	}
	id := c.GetSessionId()
	// Another session, killed by a prefix of its id.
	other := dialAgent(t, at.MCP).GetSessionId()
	var killed bytes.Buffer
	getenv := func(string) string { return "admin-secret-token" }
	kill := &killCmd{adminFlags: adminFlags{Admin: at.Admin, AdminTokenEnv: "WARDEN_ADMIN_TOKEN"}, Session: other[:8]}
	if err := kill.run(context.Background(), &killed, getenv); err != nil || killed.String() != "killed session "+other+"\n" {
		t.Fatalf("kill %s: %v, %q", other[:8], err, killed.String())
	}

	where := historyFlags{Config: cfgPath, AdminTokenEnv: "WARDEN_ADMIN_TOKEN"}
	show := func() string {
		t.Helper()
		out, err := printed((&sessionsShowCmd{historyFlags: where, ID: id[:6]}).Run)
		if err != nil {
			t.Fatalf("sessions show: %v", err)
		}
		return out
	}
	list := func() string {
		t.Helper()
		out, err := printed((&sessionsLsCmd{historyFlags: where}).Run)
		if err != nil {
			t.Fatalf("sessions ls: %v", err)
		}
		return out
	}
	viaAPI, listedViaAPI := show(), list()
	asJSON, err := printed((&sessionsLsCmd{historyFlags: historyFlags{Config: cfgPath, AdminTokenEnv: "WARDEN_ADMIN_TOKEN", JSON: true}}).Run)
	if err != nil || !strings.Contains(asJSON, `"last_active": "20`) {
		t.Fatalf("sessions ls --json through the API: %v\n%s\nwant each session's last_active", err, asJSON)
	}
	stop()
	fromFile, listedFromFile := show(), list()

	for _, want := range []string{`call              desk/issue_refund {"amount":12.5,"customer_id":"C-1001 <vip> & co","iban":"DE00 1234"} → allow`,
		"resource_read     desk/kb://files/policies/refunds.md "} {
		if !strings.Contains(viaAPI, want) {
			t.Errorf("the timeline lacks %s:\n%s", want, viaAPI)
		}
	}
	rest, ok := strings.CutPrefix(fromFile, viaAPI)
	if !ok || strings.Count(rest, "\n") != 1 || !strings.Contains(rest, "warden shut down") {
		t.Errorf("through the API:\n%s\nfrom the file:\n%s\nwant the same, and one more line for the shutdown", viaAPI, fromFile)
	}
	if listedViaAPI != listedFromFile {
		t.Errorf("sessions ls through the API:\n%s\nfrom the file:\n%s", listedViaAPI, listedFromFile)
	}
}

// serveWithAdmin serves cfgText, written to dir/warden.yaml, with an admin
// API (token "admin-secret-token") on a loopback port of its own, so that
// commands given only -c find it. stop stops warden; it is also a cleanup.
func serveWithAdmin(t *testing.T, dir, cfgText string, adminExtra ...string) (at endpoints, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adminAddr := ln.Addr().String()
	ln.Close()
	adminSum := sha256.Sum256([]byte("admin-secret-token"))
	cfgPath := filepath.Join(dir, "warden.yaml")
	writeFile(t, cfgPath, cfgText+"admin:\n  listen: "+adminAddr+"\n  token_sha256: "+hex.EncodeToString(adminSum[:])+"\n"+strings.Join(adminExtra, ""))
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	logger := log.NewWithOptions(&testkit.SyncBuffer{}, log.Options{Level: log.InfoLevel})
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan endpoints, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, logger, func(_ *app, at endpoints) { ready <- at }) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	select {
	case at = <-ready:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}
	return at, stop
}

// TestSessionsLsLastSeenIsTheAgentsLastRequest: LAST SEEN is the time of
// the agent's last request, not that of what warden recorded on its own
// after it (its shutdown, the idle session's end at the next start).
func TestSessionsLsLastSeenIsTheAgentsLastRequest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "warden.db")
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.Local)
	if err := db.CreateSession(ctx, store.Session{ID: "s1", Agent: "a", Started: t0, State: store.StateActive}); err != nil {
		t.Fatal(err)
	}
	for _, e := range []store.Event{
		{Kind: store.KindSessionStart, Time: t0},
		{Kind: store.KindCall, Tool: "read_file", Verdict: "allow", Time: t0.Add(5 * time.Minute)},
		{Kind: store.KindResult, Tool: "read_file", OK: true, Time: t0.Add(5 * time.Minute)},
		{Kind: store.KindSignal, Reasons: []string{"warden shut down; the session can resume when it is back"}, Time: t0.Add(2 * time.Hour)},
		{Kind: store.KindSessionEnd, Reasons: []string{"idle since warden stopped"}, Time: t0.Add(26 * time.Hour)},
	} {
		if _, err := db.Append(ctx, "s1", e); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.CreateSession(ctx, store.Session{ID: "s2", Agent: "b", Started: t0.Add(time.Hour), State: store.StateActive}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	file := historyFlags{DB: path}
	out, err := printed((&sessionsLsCmd{historyFlags: file}).Run)
	if err != nil {
		t.Fatal(err)
	}
	row := "s1       a      active  2026-03-01 09:00:00  2026-03-01 09:05:00"
	if !strings.Contains(out, row) {
		t.Fatalf("sessions ls:\n%s\nwant the row %q", out, row)
	}
	// Both ids start with "s": the prefix is refused, naming them.
	if _, err := printed((&sessionsShowCmd{historyFlags: file, ID: "s"}).Run); err == nil || !strings.Contains(err.Error(), "is ambiguous: 2 sessions start with it; give more of it:\n  s1\n  s2") {
		t.Fatalf("sessions show s: %v", err)
	}
}
