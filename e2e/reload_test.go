package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/warden-dev/warden/store"
)

// reloadAgent is one agent of a reload test's configuration; its token is
// given by hash, or read from file when that is set.
type reloadAgent struct{ name, token, extra, file string }

// reloadWarden is `warden serve` on a config file that a test rewrites.
type reloadWarden struct {
	*wardenProcess
	cfg, data, desk string
	// ups, when set, replaces the upstreams' list (desk alone) in the
	// configs written from then on.
	ups   string
	write func(settings string, agents ...reloadAgent)
}

// upstream is an entry of the upstreams' list for a stdio command.
func upstream(name, command, extra string) string {
	return fmt.Sprintf("  - name: %s\n    stdio: {command: %q%s}\n", name, command, extra)
}

// startReloadWarden builds warden and the desk upstream, writes a config
// with the settings and agents given and serves it. With viaLink the
// config path is a symbolic link to a file in another folder, which the
// file watch does not see change: only SIGHUP reloads it.
func startReloadWarden(t *testing.T, viaLink bool, settings string, agents ...reloadAgent) *reloadWarden {
	t.Helper()
	bin := buildWarden(t)
	desk := buildCommand(t, "./e2e/fixtures/deskserver")
	dir := t.TempDir()
	cfg, data := filepath.Join(dir, "warden.yaml"), filepath.Join(dir, "data")
	target := cfg
	if viaLink {
		target = filepath.Join(t.TempDir(), "real.yaml")
		if err := os.Symlink(target, cfg); err != nil {
			t.Fatal(err)
		}
	}
	w := &reloadWarden{cfg: cfg, data: data, desk: desk}
	w.write = func(settings string, agents ...reloadAgent) {
		ups := w.ups
		if ups == "" {
			ups = upstream("desk", desk, "")
		}
		var b strings.Builder
		fmt.Fprintf(&b, "listen: 127.0.0.1:0\ndata_dir: %s\nlog: {level: info, format: json}\n%supstreams:\n%sagents:\n", data, settings, ups)
		for _, a := range agents {
			token := "token_sha256: " + hashToken(a.token)
			if a.file != "" {
				token = "token_file: " + a.file
			}
			fmt.Fprintf(&b, "  - name: %s\n    %s\n%s", a.name, token, a.extra)
		}
		if err := os.WriteFile(target, []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	w.write(settings, agents...)
	w.wardenProcess = startServe(t, bin, cfg)
	return w
}

// reloaded waits for the n-th reload in warden's log: "configuration
// reloaded", or "policies loaded" from a warden that reloads its policies
// only, so that such a warden fails these tests on what it does.
func (w *reloadWarden) reloaded(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for max(strings.Count(w.stderr.String(), `"msg":"configuration reloaded"`), strings.Count(w.stderr.String(), `"msg":"policies loaded"`)) < n {
		if time.Now().After(deadline) {
			t.Fatalf("reload %d did not apply within 30s:\n%s", n, w.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stopAndOpen stops warden (SIGTERM) and opens its history.
func (w *reloadWarden) stopAndOpen(t *testing.T) *store.DB {
	t.Helper()
	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.done:
	case <-time.After(30 * time.Second):
		t.Fatal("warden did not stop within 30s of SIGTERM")
	}
	db, err := store.Open(filepath.Join(w.data, "warden.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// writeToken writes a token file that only its owner may read.
func writeToken(t *testing.T, path, token string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// agentUA is the user agent of the tests' agents, the same on every request.
var agentUA = map[string]string{"User-Agent": "agent/1.0"}

const initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw-agent","version":"1"}}}`

// initStatus is the status an initialize with token gets.
func initStatus(t *testing.T, url, token string) int {
	t.Helper()
	st, body, _, err := ladderPost(nil, url, token, "", initializeBody, agentUA)
	if err != nil {
		t.Fatalf("initialize: %v", err)
	}
	if st != http.StatusOK && st != http.StatusUnauthorized {
		t.Fatalf("initialize: %d %s", st, body)
	}
	return st
}

// echoIn calls echo in a live session and returns the HTTP status and body.
func echoIn(t *testing.T, url, token, sid string, id int) (int, string) {
	t.Helper()
	st, body, _, err := ladderPost(nil, url, token, sid, toolCallBody(id, "echo", `{"message":"hi"}`), agentUA)
	if err != nil {
		t.Fatalf("echo: %v", err)
	}
	return st, body
}

// endedByReload checks that session id's chain ends with a session_end that
// says a reload ended it, why, and never holds the secret.
func endedByReload(t *testing.T, db *store.DB, id, why, secret string) {
	t.Helper()
	ctx := context.Background()
	rec, err := db.Session(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != store.StateEnded || !strings.Contains(rec.Reason, why) {
		t.Errorf("session %s: state %q reason %q, want ended with %q", id, rec.State, rec.Reason, why)
	}
	evs, err := db.Events(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	last := evs[len(evs)-1]
	if last.Kind != "session_end" || len(last.Reasons) != 1 || !strings.Contains(last.Reasons[0], "configuration reload: "+why) {
		t.Errorf("session %s: last event %s %v, want session_end ended by a configuration reload: %s", id, last.Kind, last.Reasons, why)
	}
	for _, e := range evs {
		if strings.Contains(strings.Join(e.Reasons, " ")+string(e.Data), secret) {
			t.Errorf("session %s: event %s holds the token: %v", id, e.Kind, e.Reasons)
		}
	}
}

// TestReloadRotatesToken rotates an agent's token: by editing the config
// and sending SIGHUP (the config is a link the file watch cannot see
// change), by editing the config alone (the file watch), and by rewriting
// the agent's token_file alone. The old token is refused from then on,
// the session it opened is ended on record, and the new token works.
func TestReloadRotatesToken(t *testing.T) {
	for _, trigger := range []string{"sighup", "watch", "token_file"} {
		t.Run(trigger, func(t *testing.T) {
			const oldTok, newTok = "rotate-old-token-0123456789", "rotate-new-token-9876543210"
			bot := reloadAgent{name: "bot", token: oldTok}
			if trigger == "token_file" {
				bot.file = filepath.Join(t.TempDir(), "bot.token")
				writeToken(t, bot.file, oldTok)
			}
			w := startReloadWarden(t, trigger == "sighup", "", bot)
			sid := rawSession(t, nil, w.url, oldTok, "agent/1.0")
			if st, body := echoIn(t, w.url, oldTok, sid, 2); st != http.StatusOK || !strings.Contains(body, `"text":"hi"`) {
				t.Fatalf("echo before the rotation: %d %s", st, body)
			}

			switch trigger {
			case "token_file":
				writeToken(t, bot.file, newTok)
			case "sighup":
				w.write("", reloadAgent{name: "bot", token: newTok})
				if err := w.cmd.Process.Signal(syscall.SIGHUP); err != nil {
					t.Fatal(err)
				}
			default:
				w.write("", reloadAgent{name: "bot", token: newTok})
			}
			w.reloaded(t, 1)

			if st := initStatus(t, w.url, oldTok); st != http.StatusUnauthorized {
				t.Errorf("old token after the rotation: %d, want 401", st)
			}
			if st, body := echoIn(t, w.url, oldTok, sid, 3); st != http.StatusUnauthorized {
				t.Errorf("old token's live session after the rotation: %d %s, want 401", st, body)
			}
			if st, body := echoIn(t, w.url, newTok, sid, 4); st != http.StatusNotFound {
				t.Errorf("the old session with the new token: %d %s, want 404 (it ended)", st, body)
			}
			sid2 := rawSession(t, nil, w.url, newTok, "agent/1.0")
			if st, body := echoIn(t, w.url, newTok, sid2, 5); st != http.StatusOK || !strings.Contains(body, `"text":"hi"`) {
				t.Errorf("echo with the new token: %d %s", st, body)
			}

			db := w.stopAndOpen(t)
			endedByReload(t, db, sid, "the agent's token was replaced", oldTok)
		})
	}
}

// echoed reports whether a call's answer is echo's, not a refusal.
func echoed(body string) bool { return strings.Contains(body, `"text":"hi"`) }

// TestReloadAddsAndRemovesAgents adds an agent, removes one with a live
// session and narrows a third's tools in one reload: the new agent can
// connect at once, the removed one's session is ended on record and its
// token refused, and the narrowed agent's live session carries on under
// its new tools.
func TestReloadAddsAndRemovesAgents(t *testing.T) {
	const tokA, tokB, tokC = "agent-a-token-0123456789", "agent-b-token-0123456789", "agent-c-token-0123456789"
	w := startReloadWarden(t, false, "", reloadAgent{name: "a", token: tokA}, reloadAgent{name: "b", token: tokB})
	sa := rawSession(t, nil, w.url, tokA, "agent/1.0")
	sb := rawSession(t, nil, w.url, tokB, "agent/1.0")
	if st := initStatus(t, w.url, tokC); st != http.StatusUnauthorized {
		t.Fatalf("agent c before it is added: %d, want 401", st)
	}
	for _, s := range []struct{ tok, sid string }{{tokA, sa}, {tokB, sb}} {
		if st, body := echoIn(t, w.url, s.tok, s.sid, 2); st != http.StatusOK || !echoed(body) {
			t.Fatalf("echo before the reload: %d %s", st, body)
		}
	}

	w.write("", reloadAgent{name: "b", token: tokB, extra: "    tools: [lookup_customer]\n"}, reloadAgent{name: "c", token: tokC})
	w.reloaded(t, 1)

	sc := rawSession(t, nil, w.url, tokC, "agent/1.0")
	if st, body := echoIn(t, w.url, tokC, sc, 3); st != http.StatusOK || !echoed(body) {
		t.Errorf("echo of the added agent: %d %s", st, body)
	}
	if st := initStatus(t, w.url, tokA); st != http.StatusUnauthorized {
		t.Errorf("removed agent's token: %d, want 401", st)
	}
	if st, body := echoIn(t, w.url, tokA, sa, 4); st != http.StatusUnauthorized {
		t.Errorf("removed agent's live session: %d %s, want 401", st, body)
	}
	if st, body := echoIn(t, w.url, tokB, sb, 5); st != http.StatusOK || echoed(body) {
		t.Errorf("echo in the live session of an agent now limited to lookup_customer: %d %s, want it refused", st, body)
	}
	if st, body, _, err := ladderPost(nil, w.url, tokB, sb, toolCallBody(6, "lookup_customer", `{"query":"C-1001"}`), agentUA); err != nil || st != http.StatusOK || !strings.Contains(body, "C-1001") || strings.Contains(body, `"isError":true`) {
		t.Errorf("lookup_customer in the narrowed agent's live session: %d %s %v, want it to go on", st, body, err)
	}

	db := w.stopAndOpen(t)
	endedByReload(t, db, sa, "the agent was removed from the configuration", tokA)
	if rec, err := db.Session(context.Background(), sb); err != nil || rec.State != store.StateActive {
		t.Errorf("the kept agent's session: %+v %v, want it still active", rec, err)
	}
}

// TestReloadRefusesInvalidConfig rotates a token in a config that is
// invalid elsewhere: nothing of it applies, the error is logged with its
// file, line and column and counted. A later valid reload that also
// changes the request size limit applies all but that, which it reports as
// needing a restart.
func TestReloadRefusesInvalidConfig(t *testing.T) {
	const tokA, tokB, tokC = "agent-a-token-0123456789", "agent-b-token-0123456789", "agent-c-token-0123456789"
	w := startReloadWarden(t, false, "", reloadAgent{name: "a", token: tokA})
	sa := rawSession(t, nil, w.url, tokA, "agent/1.0")

	w.write("", reloadAgent{name: "a", token: tokB}, reloadAgent{name: "c", token: tokC, extra: "    throttle: {per_minute: -1, burst: 1}\n"})
	waitFor(t, 30*time.Second, "the refusal to be logged", func() bool { return strings.Contains(w.stderr.String(), `"msg":"reload refused`) })
	logs := w.stderr.String()
	if !strings.Contains(logs, `"failed_reloads":1`) || !strings.Contains(logs, w.cfg+":12:") || !strings.Contains(logs, "per_minute must be positive") {
		t.Errorf("the refusal does not say where and what, or is not counted:\n%s", logs)
	}
	if st, body := echoIn(t, w.url, tokA, sa, 2); st != http.StatusOK || !echoed(body) {
		t.Errorf("the live session after a refused reload: %d %s", st, body)
	}
	if st := initStatus(t, w.url, tokA); st != http.StatusOK {
		t.Errorf("the running token after a refused reload: %d, want 200", st)
	}
	for _, tok := range []string{tokB, tokC} {
		if st := initStatus(t, w.url, tok); st != http.StatusUnauthorized {
			t.Errorf("a token of the refused config: %d, want 401", st)
		}
	}

	w.write("max_body_bytes: 12345\n", reloadAgent{name: "a", token: tokA}, reloadAgent{name: "c", token: tokC})
	w.reloaded(t, 1)
	if !strings.Contains(w.stderr.String(), `"msg":"reload: this setting changed but needs a restart; it keeps its running value","setting":"max_body_bytes"`) {
		t.Errorf("the max_body_bytes change is not reported as needing a restart:\n%s", w.stderr.String())
	}
	if st := initStatus(t, w.url, tokC); st != http.StatusOK {
		t.Errorf("the agent added beside a restart-only change: %d, want 200", st)
	}
	if st, body := echoIn(t, w.url, tokA, sa, 3); st != http.StatusOK || !echoed(body) {
		t.Errorf("the live session after the reload: %d %s", st, body)
	}
}

// TestReloadThrottleKeepsCounters lowers the session rate by reload: it
// applies to the next call of live sessions, and what a session already
// spent still counts (a reload does not refill its bucket).
func TestReloadThrottleKeepsCounters(t *testing.T) {
	const tok = "throttled-token-0123456789"
	throttle := func(burst int) string {
		return fmt.Sprintf("throttle: {session: {per_minute: 1, burst: %d}, max_delay: 0s}\n", burst)
	}
	w := startReloadWarden(t, false, throttle(4), reloadAgent{name: "bot", token: tok})
	busy := rawSession(t, nil, w.url, tok, "agent/1.0")
	idle := rawSession(t, nil, w.url, tok, "agent/1.0")
	id := 2
	passed := func(sid string, calls int) int {
		n := 0
		for range calls {
			id++
			if st, body := echoIn(t, w.url, tok, sid, id); st == http.StatusOK && echoed(body) {
				n++
			}
		}
		return n
	}
	if n := passed(busy, 3); n != 3 {
		t.Fatalf("%d of 3 calls within a burst of 4 went ahead", n)
	}

	w.write(throttle(2), reloadAgent{name: "bot", token: tok})
	w.reloaded(t, 1)

	if n := passed(busy, 3); n != 1 {
		t.Errorf("the session that spent 3 of 4: %d calls went ahead after the burst became 2, want 1 (the token it had left)", n)
	}
	if n := passed(idle, 4); n != 2 {
		t.Errorf("the session that spent nothing: %d calls went ahead after the burst became 2, want 2", n)
	}
}

// TestReloadRotatesAdminToken replaces the admin API's tokens by reload:
// the shared one rotated and a named one taken away are refused from then
// on, and the new shared and named ones accepted.
func TestReloadRotatesAdminToken(t *testing.T) {
	const tok, oldAdmin, newAdmin = "agent-token-0123456789", "admin-old-0123456789", "admin-new-0123456789"
	const carol, dan = "carol-admin-0123456789", "dan-admin-0123456789"
	admin := func(token, named string) string {
		return fmt.Sprintf("admin: {listen: 127.0.0.1:0, token_sha256: %s, tokens: [%s]}\n", hashToken(token), named)
	}
	w := startReloadWarden(t, false, admin(oldAdmin, "{name: carol, token_sha256: "+hashToken(carol)+"}"), reloadAgent{name: "bot", token: tok})
	var base string
	waitFor(t, 10*time.Second, "the admin API's URL in the log", func() bool {
		for _, line := range strings.Split(w.stderr.String(), "\n") {
			var l struct{ Msg, URL string }
			if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "admin API serving" {
				base = l.URL
			}
		}
		return base != ""
	})
	status := func(token string) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, base+"/v1/agents", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := status(oldAdmin); st != http.StatusOK {
		t.Fatalf("admin token before the rotation: %d", st)
	}
	if st := status(carol); st != http.StatusOK {
		t.Fatalf("carol's named token before the reload: %d", st)
	}
	// The reload rotates the shared token, takes carol's named token away
	// and gives dan one.
	w.write(admin(newAdmin, "{name: dan, token_sha256: "+hashToken(dan)+"}"), reloadAgent{name: "bot", token: tok})
	w.reloaded(t, 1)
	for _, c := range []struct {
		name, token string
		want        int
	}{
		{"old shared token", oldAdmin, http.StatusUnauthorized},
		{"new shared token", newAdmin, http.StatusOK},
		{"carol's removed named token", carol, http.StatusUnauthorized},
		{"dan's added named token", dan, http.StatusOK},
	} {
		if st := status(c.token); st != c.want {
			t.Errorf("%s after the reload: %d, want %d", c.name, st, c.want)
		}
	}
}

// TestReloadUpstreams adds, replaces and removes upstreams by reload,
// with a session live throughout: an added upstream's tools are offered
// and answer at once; a replaced one (its environment changed) is a new
// process (the old one ends), so its per-session count starts again, while an unchanged one
// keeps its upstream session; a removed one's tools are gone, and its
// tool names, taken over by another upstream in the same reload, are
// not silently accepted: calls to them step up (and, with no approver,
// are refused) as after any move of a pinned name.
func TestReloadUpstreams(t *testing.T) {
	const tok = "upstreams-token-0123456789"
	bot := reloadAgent{name: "bot", token: tok}
	w := startReloadWarden(t, false, "", bot)
	counter := buildCommand(t, "./e2e/fixtures/counterserver")
	sid := rawSession(t, nil, w.url, tok, "agent/1.0")
	id := 1
	post := func(body string) string {
		t.Helper()
		id++
		st, out, _, err := ladderPost(nil, w.url, tok, sid, fmt.Sprintf(body, id), agentUA)
		if err != nil || st != http.StatusOK {
			t.Fatalf("%s: %d %s %v", body, st, out, err)
		}
		return out
	}
	list := func() string { return post(`{"jsonrpc":"2.0","id":%d,"method":"tools/list"}`) }
	increment := func() string {
		return post(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"increment","arguments":{}}}`)
	}
	echo := func() string {
		return post(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"}}}`)
	}
	if l := list(); strings.Contains(l, `"increment"`) || !strings.Contains(l, `"echo"`) {
		t.Fatalf("tools before the reload: %s", l)
	}

	w.ups = upstream("desk", w.desk, "") + upstream("counter", counter, "")
	w.write("", bot)
	w.reloaded(t, 1)
	if l := list(); !strings.Contains(l, `"increment"`) {
		t.Fatalf("the added upstream's tool is not offered: %s", l)
	}
	for _, want := range []string{`"text":"1"`, `"text":"2"`} {
		if got := increment(); !strings.Contains(got, want) {
			t.Fatalf("increment on the added upstream: %s, want %s", got, want)
		}
	}

	var who struct {
		Result struct {
			Content []struct{ Text string }
		}
	}
	var first struct{ PID int }
	answer := post(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`)
	if i := strings.Index(answer, "data: "); i >= 0 { // answered as an event stream
		answer = strings.TrimSpace(answer[i+len("data: "):])
	}
	if err := json.Unmarshal([]byte(answer), &who); err != nil || len(who.Result.Content) != 1 {
		t.Fatalf("whoami: %v %+v", err, who)
	}
	if err := json.Unmarshal([]byte(who.Result.Content[0].Text), &first); err != nil || first.PID == 0 {
		t.Fatalf("whoami's answer %q: %v", who.Result.Content[0].Text, err)
	}

	w.ups = upstream("desk", w.desk, "") + upstream("counter", counter, `, env: {GENERATION: "2"}`)
	w.write("", bot)
	w.reloaded(t, 2)
	waitFor(t, 30*time.Second, "the replaced upstream's process for the session to end", func() bool { return processGone(first.PID) })
	if got := increment(); !strings.Contains(got, `"text":"1"`) {
		t.Errorf("increment on the replaced upstream: %s, want a new process counting from 1", got)
	}
	if got := echo(); !echoed(got) {
		t.Errorf("echo on the unchanged upstream: %s", got)
	}

	w.ups = upstream("desk2", w.desk, "") + upstream("counter", counter, `, env: {GENERATION: "2"}`)
	w.write("", bot)
	w.reloaded(t, 3)
	if got := increment(); !strings.Contains(got, `"text":"2"`) {
		t.Errorf("increment on the upstream the reload left alone: %s, want its session's count to go on (2)", got)
	}
	if got := echo(); echoed(got) || !strings.Contains(got, "moved from desk/echo to desk2/echo") {
		t.Errorf("echo, now another upstream's under a pinned name: %s, want it held back as a moved name", got)
	}
	if !strings.Contains(w.stderr.String(), `"msg":"upstreams changed by reload","added":["desk2"],"replaced":null,"removed":["desk"]`) {
		t.Errorf("the upstreams' change is not logged:\n%s", w.stderr.String())
	}
}
