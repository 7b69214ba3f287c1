package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/warden-dev/warden"
	"github.com/warden-dev/warden/notify"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
)

// Revalidation: a session whose requests start coming from another user
// agent mid-session is answered as configured.

// rawSession opens a session over plain HTTP as user agent ua and
// returns its id.
func rawSession(t *testing.T, hc *http.Client, url, token, ua string) string {
	t.Helper()
	init := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw-agent","version":"1"}}}`
	st, body, hdr, err := ladderPost(hc, url, token, "", init, map[string]string{"User-Agent": ua})
	if err != nil || st != http.StatusOK {
		t.Fatalf("initialize: %d %s %v", st, body, err)
	}
	sid := hdr.Get("Mcp-Session-Id")
	if sid == "" {
		t.Fatalf("initialize gave no session id: %s", body)
	}
	if st, body, _, err := ladderPost(hc, url, token, sid, `{"jsonrpc":"2.0","method":"notifications/initialized"}`, map[string]string{"User-Agent": ua}); err != nil || st != http.StatusAccepted {
		t.Fatalf("initialized: %d %s %v", st, body, err)
	}
	return sid
}

func toolCallBody(id int, tool, args string) string {
	return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":%q,"arguments":%s}}`, id, tool, args)
}

func TestRevalidationOnUserAgentChange(t *testing.T) {
	cases := []struct {
		onChange warden.Verdict
		check    func(t *testing.T, l *ladder, sid string, send func(id int) (int, string))
	}{
		{warden.Flag, func(t *testing.T, l *ladder, sid string, send func(int) (int, string)) {
			st, body := send(2)
			if st != 200 || !strings.Contains(body, "echo: hi") {
				t.Fatalf("flagged call: %d %s, want it to go on", st, body)
			}
			l.Hook.wait(t, 10*time.Second, "call.flagged", func(m notify.Message) bool {
				return m.Type == notify.TypeCallFlagged && m.Session == sid && strings.Contains(strings.Join(m.Reasons, ";"), "user agent changed")
			})
			// Both wait in the review queue, newest first: the call the
			// session's risk flagged, and the signal flagged on revalidation.
			var flags []store.Flag
			if st, body := l.admin(t, http.MethodGet, "/v1/flags?state=open", nil, &flags); st != http.StatusOK {
				t.Fatalf("GET /v1/flags: %d %s", st, body)
			}
			if len(flags) != 2 || flags[0].Session != sid || flags[1].Session != sid ||
				flags[0].Kind != store.KindCall || flags[0].Tool != "echo" ||
				!strings.Contains(strings.Join(flags[0].Reasons, ";"), "session risk") ||
				flags[1].Kind != store.KindSignal || !slices.Equal(flags[1].Signals, []string{supervisor.SignalUserAgentChanged}) ||
				!strings.Contains(strings.Join(flags[1].Reasons, ";"), "user agent changed") {
				t.Fatalf("review queue = %+v, want the call flagged by risk and the user agent change, on %s", flags, sid)
			}
		}},
		{warden.Kill, func(t *testing.T, l *ladder, sid string, send func(int) (int, string)) {
			if st, body := send(2); st != http.StatusNotFound {
				t.Fatalf("call from the new user agent: %d %s, want 404", st, body)
			}
			if rec, _ := l.Store.Session(t.Context(), sid); rec.State != store.StateKilled || !strings.Contains(rec.Reason, "user agent changed") {
				t.Fatalf("session = %s (%s), want killed for the change", rec.State, rec.Reason)
			}
			if l.Up.paid.Load() != 0 {
				t.Fatal("unexpected payment")
			}
		}},
		{warden.StepUp, func(t *testing.T, l *ladder, sid string, send func(int) (int, string)) {
			type answer struct {
				st   int
				body string
			}
			done := make(chan answer, 1)
			go func() { st, body := send(2); done <- answer{st, body} }()
			a := l.pending(t, sid, 1)[0]
			if !strings.Contains(strings.Join(a.Reasons, ";"), "user agent changed") || a.Tool != "echo" {
				t.Fatalf("held for %s %v, want the echo held for the change", a.Tool, a.Reasons)
			}
			select {
			case r := <-done:
				t.Fatalf("the call was not held: %d %s", r.st, r.body)
			default:
			}
			if st, body := l.decide(t, a.ID, store.DecisionSession); st != 200 {
				t.Fatalf("decide: %d %s", st, body)
			}
			select {
			case r := <-done:
				if r.st != 200 || !strings.Contains(r.body, "echo: hi") {
					t.Fatalf("approved call: %d %s", r.st, r.body)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("approved call did not return")
			}
			// Allowed again for the session: the next call goes at once.
			if st, body := send(3); st != 200 || !strings.Contains(body, "echo: hi") {
				t.Fatalf("call after the approval: %d %s", st, body)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.onChange.String(), func(t *testing.T) {
			l := newLadder(t, func(o *supervisor.Options) { o.Escalation.OnChange = tc.onChange })
			sid := rawSession(t, nil, l.URL, opsToken, "agent/1.0")
			if st, body, _, err := ladderPost(nil, l.URL, opsToken, sid, toolCallBody(1, "echo", `{"message":"hi"}`), map[string]string{"User-Agent": "agent/1.0"}); err != nil || st != 200 || !strings.Contains(body, "echo: hi") {
				t.Fatalf("call from the first user agent: %d %s %v", st, body, err)
			}
			send := func(id int) (int, string) {
				st, body, _, err := ladderPost(nil, l.URL, opsToken, sid, toolCallBody(id, "echo", `{"message":"hi"}`), map[string]string{"User-Agent": "curl/8.0"})
				if err != nil {
					t.Fatal(err)
				}
				return st, body
			}
			tc.check(t, l, sid, send)
			evs, _ := l.timeline(t, sid)
			signals := 0
			for _, e := range evs {
				if e.Kind == "signal" {
					signals++
					if e.Verdict != tc.onChange.String() || !strings.Contains(e.Reasons[0], `from "agent/1.0" to "curl/8.0"`) {
						t.Fatalf("signal event = %+v", e)
					}
				}
			}
			if signals != 1 {
				t.Fatalf("%d signal events, want 1 (the change is recorded once)", signals)
			}
		})
	}
}
