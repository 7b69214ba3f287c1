package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/warden-dev/warden"
	"github.com/warden-dev/warden/notify"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
)

// addrChange is the reason a move from 127.0.0.1 to 127.0.0.2 is recorded
// with.
const addrChange = "remote address changed mid-session from 127.0.0.1 to 127.0.0.2"

// TestRevalidationOnAddressChange: a session opened from 127.0.0.1 whose
// next request comes from 127.0.0.2 (same token, same user agent, no
// proxy) is answered as revalidation's on_change says: flag lets the call
// go and alerts; step_up holds it for an approver; kill ends the session
// before the call reaches the upstream. Each records the change as a
// signal with both addresses.
func TestRevalidationOnAddressChange(t *testing.T) {
	ua := map[string]string{"User-Agent": "agent/1"}
	cases := []struct {
		onChange warden.Verdict
		check    func(t *testing.T, l *ladder, sid string, send func(id int) (int, string))
	}{
		{warden.Flag, func(t *testing.T, l *ladder, sid string, send func(int) (int, string)) {
			if st, body := send(2); st != http.StatusOK || !strings.Contains(body, "paid 1 to bob") {
				t.Fatalf("call from the new address: %d %s, want it to go on", st, body)
			}
			l.Hook.wait(t, 10*time.Second, "call.flagged for the address change", func(m notify.Message) bool {
				return m.Type == notify.TypeCallFlagged && m.Session == sid && strings.Contains(strings.Join(m.Reasons, ";"), addrChange)
			})
		}},
		{warden.StepUp, func(t *testing.T, l *ladder, sid string, send func(int) (int, string)) {
			done := make(chan string, 1)
			go func() { st, body := send(2); done <- http.StatusText(st) + " " + body }()
			a := l.pending(t, sid, 1)[0]
			if a.Tool != "pay" || !strings.Contains(strings.Join(a.Reasons, ";"), addrChange) {
				t.Fatalf("held %s for %v, want pay held for the address change", a.Tool, a.Reasons)
			}
			stillOpenString(t, done)
			if st, body := l.decide(t, a.ID, store.DecisionDeny); st != http.StatusOK {
				t.Fatalf("deny: %d %s", st, body)
			}
			select {
			case got := <-done:
				if !strings.Contains(got, "isError") || strings.Contains(got, "paid") {
					t.Fatalf("denied call answered %s, want a refusal", got)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the denied call never answered")
			}
			if n := l.Up.paid.Load(); n != 1 {
				t.Fatalf("the upstream was paid %d times, want only the first call's", n)
			}
		}},
		{warden.Kill, func(t *testing.T, l *ladder, sid string, send func(int) (int, string)) {
			if st, body := send(2); st != http.StatusNotFound {
				t.Fatalf("call from the new address: %d %s, want 404", st, body)
			}
			if rec, err := l.Store.Session(t.Context(), sid); err != nil || rec.State != store.StateKilled || !strings.Contains(rec.Reason, addrChange) {
				t.Fatalf("session = %+v %v, want killed for the address change", rec, err)
			}
			if n := l.Up.paid.Load(); n != 1 {
				t.Fatalf("the upstream was paid %d times, want only the first call's", n)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.onChange.String(), func(t *testing.T) {
			l := newLadder(t, func(o *supervisor.Options) { o.Escalation.OnChange = tc.onChange })
			first, second := clientFrom(t, "127.0.0.1"), clientFrom(t, "127.0.0.2")
			sid := rawSession(t, first, l.URL, opsToken, "agent/1")
			if st, body, _, err := ladderPost(first, l.URL, opsToken, sid, toolCallBody(1, "pay", `{"amount":1,"to":"bob"}`), ua); err != nil || st != http.StatusOK || !strings.Contains(body, "paid 1 to bob") {
				t.Fatalf("call from the first address: %d %s %v", st, body, err)
			}
			send := func(id int) (int, string) {
				st, body, _, err := ladderPost(second, l.URL, opsToken, sid, toolCallBody(id, "pay", `{"amount":1,"to":"bob"}`), ua)
				if err != nil {
					t.Fatal(err)
				}
				return st, body
			}
			tc.check(t, l, sid, send)

			var found []string
			for _, e := range signalsOf(t, l, sid) {
				if strings.Contains(strings.Join(e.Reasons, ";"), addrChange) {
					found = append(found, e.Verdict)
				}
			}
			if len(found) != 1 || found[0] != tc.onChange.String() {
				t.Fatalf("address-change signals on the chain with verdicts %v, want one with %s", found, tc.onChange)
			}
		})
	}
}

// stillOpenString checks that a background request has not answered yet.
func stillOpenString(t *testing.T, done <-chan string) {
	t.Helper()
	select {
	case got := <-done:
		t.Fatalf("the held call answered before a decision: %s", got)
	default:
	}
}
