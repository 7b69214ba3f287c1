package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warden-dev/warden"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
)

// clientFrom is an HTTP client whose connections come from ip (a loopback
// address: "another address" without leaving the machine).
func clientFrom(t *testing.T, ip string) *http.Client {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// TestSignalsRaiseRisk: the agent's token opened from a second address is
// a token_reuse signal on the new session; its address changing again is
// another; their weights add up to the session's risk, which flags, then
// steps up, calls that the workflow allows, and the approver is told the
// score and the evidence; each signal is on the chain, and replaying the
// recorded session gives the same verdicts.
func TestSignalsRaiseRisk(t *testing.T) {
	l := newLadder(t)
	ua := map[string]string{"User-Agent": "agent/1"}
	first := rawSession(t, clientFrom(t, "127.0.0.1"), l.URL, opsToken, "agent/1")
	second := rawSession(t, clientFrom(t, "127.0.0.2"), l.URL, opsToken, "agent/1")

	call := func(hc *http.Client, id int, tool, args string) string {
		t.Helper()
		st, res, _, err := ladderPost(hc, l.URL, opsToken, second, toolCallBody(id, tool, args), ua)
		if err != nil || st != http.StatusOK {
			t.Fatalf("%s: %d %s %v", tool, st, res, err)
		}
		return res
	}
	// token_reuse (40): over the flag threshold (20), under step-up (50).
	if res := call(clientFrom(t, "127.0.0.2"), 2, "echo", `{"message":"hi"}`); !strings.Contains(res, "echo: hi") {
		t.Fatalf("echo with a reused token: %s", res)
	}
	// The address changes too (30): 70 steps up a payment the workflow allows.
	done := make(chan string, 1)
	go func() { done <- call(clientFrom(t, "127.0.0.3"), 3, "pay", `{"amount":1,"to":"bob"}`) }()
	msg := l.Hook.requested(t, second)
	if msg.Risk < 50 || len(msg.Signals) < 2 || !strings.Contains(strings.Join(msg.Signals, "\n"), "token_reuse") ||
		!strings.Contains(strings.Join(msg.Reasons, " "), "session risk") {
		t.Fatalf("approval request: risk %v, signals %v, reasons %v", msg.Risk, msg.Signals, msg.Reasons)
	}
	l.decide(t, msg.Approval.ID, store.DecisionDeny)
	<-done

	evs, tl := l.timeline(t, second)
	got := strings.Join(tl, " ")
	if !strings.Contains(got, "signal call:echo:flag") || !strings.Contains(got, "call:pay:step_up") {
		t.Fatalf("timeline %s: want the signal, then echo flagged, then pay stepped up", got)
	}
	var names []string
	for _, e := range evs {
		if e.Kind == store.KindSignal {
			var d struct {
				Signal struct{ Name, Evidence string }
			}
			if json.Unmarshal(e.Data, &d) == nil && d.Signal.Name != "" {
				names = append(names, d.Signal.Name)
			}
		}
	}
	if strings.Join(names, ",") != "token_reuse,address_changed" {
		t.Fatalf("signals on the chain %v, want token_reuse then address_changed", names)
	}
	// The agent's other session carries its part of both (one identity),
	// and so does a session the agent opens while they weigh.
	third := rawSession(t, clientFrom(t, "127.0.0.1"), l.URL, opsToken, "agent/1")
	// (The third session, from the first one's address, is itself a reuse
	// of the token the second one used from elsewhere.)
	for sid, want := range map[string]string{first: "agent:token_reuse,agent:address_changed", third: "agent:token_reuse,agent:address_changed"} {
		evs, _ := l.timeline(t, sid)
		var got []string
		for _, e := range evs {
			var d struct{ Signal struct{ Name string } }
			if e.Kind == store.KindSignal && json.Unmarshal(e.Data, &d) == nil && strings.HasPrefix(d.Signal.Name, "agent:") {
				got = append(got, d.Signal.Name)
			}
		}
		if !strings.HasPrefix(strings.Join(got, ","), want) {
			t.Fatalf("session %s carries %v of its agent's signals, want first %s", sid, got, want)
		}
	}
}

// TestDormantTokenIsASignal: an agent whose last session is older than
// the dormant period gets a dormant_token signal on its next one.
func TestDormantTokenIsASignal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "warden.db")
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-60 * 24 * time.Hour).UTC()
	if err := db.CreateSession(context.Background(), store.Session{ID: "old", Agent: "ops", Started: old, LastSeen: old, State: store.StateEnded}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	l := startLadder(t, path, newLadderUpstream(t), newHookReceiver(t), func(o *supervisor.Options) {
		o.Escalation.DormantAfter = 30 * 24 * time.Hour
	})
	sid := rawSession(t, nil, l.URL, opsToken, "agent/1")
	evs, _ := l.timeline(t, sid)
	var found string
	for _, e := range evs {
		if e.Kind == store.KindSignal && bytes.Contains(e.Data, []byte(`"dormant_token"`)) {
			found = strings.Join(e.Reasons, " ")
		}
	}
	if !strings.Contains(found, "last used") {
		t.Fatalf("no dormant_token signal on the chain: %+v", evs)
	}
	// Its weight (25) reaches the flag threshold (20): a call is flagged.
	st, res, _, err := ladderPost(nil, l.URL, opsToken, sid, toolCallBody(2, "echo", `{"message":"x"}`), map[string]string{"User-Agent": "agent/1"})
	if err != nil || st != http.StatusOK {
		t.Fatal(st, res, err)
	}
	_, tl := l.timeline(t, sid)
	if !strings.Contains(strings.Join(tl, " "), "call:echo:"+warden.Flag.String()) {
		t.Fatalf("timeline %v: want the call flagged by the risk", tl)
	}
}
