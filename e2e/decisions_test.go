package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warden-dev/warden/notify"
	"github.com/warden-dev/warden/store"
)

// A decision is made once: racing approvers, reused links, and links or
// webhooks that were forged or tampered with are refused.

func TestConcurrentDecisionsOneWins(t *testing.T) {
	l := newLadder(t)
	c := connect(t, l.URL, opsToken)
	sid := c.GetSessionId()
	for round := range 5 {
		held := callAsync(c, "pay", map[string]any{"amount": 50 + round, "to": "x"}, nil)
		a := l.pending(t, sid, 1)[0]
		// Two approvers at once, one approving and one denying, released
		// together.
		decisions := []string{store.DecisionOnce, store.DecisionDeny}
		status := make([]int, 2)
		bodies := make([]string, 2)
		gate := make(chan struct{})
		var wg sync.WaitGroup
		for i, d := range decisions {
			wg.Go(func() {
				<-gate
				status[i], bodies[i] = l.decide(t, a.ID, d)
			})
		}
		close(gate)
		wg.Wait()
		got := []int{status[0], status[1]}
		sort.Ints(got)
		if got[0] != http.StatusOK || got[1] != http.StatusConflict {
			t.Fatalf("round %d: statuses %v (%q), want one 200 and one 409", round, status, bodies)
		}
		winner := decisions[0]
		if status[1] == http.StatusOK {
			winner = decisions[1]
		}
		r := await(t, held, 10*time.Second)
		if r.err != nil {
			t.Fatal(r.err)
		}
		if approved := !r.res.IsError; approved != (winner == store.DecisionOnce) {
			t.Fatalf("round %d: %s won, but the call got %q", round, winner, resultText(r.res))
		}
		rec, _ := l.Store.Approval(t.Context(), a.ID)
		if rec.Decision != winner {
			t.Fatalf("round %d: %s won, approval records %s", round, winner, rec.Decision)
		}
	}
}

func TestForgedAndTamperedLinksRefused(t *testing.T) {
	l := newLadder(t)
	c := connect(t, l.URL, opsToken)
	sid := c.GetSessionId()
	held := callAsync(c, "pay", map[string]any{"amount": 50, "to": "x"}, nil)
	m := l.Hook.requested(t, sid)
	id := m.Approval.ID
	exp := m.Approval.Expires.Unix()
	deny := tokenOf(t, m.Links[store.DecisionDeny])
	p64, sig, _ := strings.Cut(deny, ".")
	enc := base64.RawURLEncoding
	payload, err := enc.DecodeString(p64)
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct{ name, token, want string }{
		{"forged with another secret", forgeLink([]byte("not-the-link-secret-0123456789ab"), id, store.DecisionOnce, exp), "signature does not match"},
		{"signed with the webhook secret", forgeLink(hookSecret, id, store.DecisionOnce, exp), "signature does not match"},
		{"decision changed", enc.EncodeToString([]byte(strings.Replace(string(payload), "|deny|", "|once|", 1))) + "." + sig, "signature does not match"},
		{"expiry pushed back", enc.EncodeToString([]byte(fmt.Sprintf("%s|deny|%d", id, exp+3600))) + "." + sig, "signature does not match"},
		{"signature cut", p64 + "." + sig[:len(sig)-4], "malformed"},
		{"no signature", p64, "malformed"},
		{"empty", "", "malformed"},
		{"garbage", "%%%.%%%", "malformed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, method := range []string{http.MethodGet, http.MethodPost} {
				st, body := linkRequest(t, l.Admin, method, tc.token)
				if st != http.StatusForbidden || !strings.Contains(body, tc.want) {
					t.Fatalf("%s: %d %q, want 403 %q", method, st, body, tc.want)
				}
			}
		})
	}
	stillOpen(t, held)
	if a, _ := l.Store.Approval(t.Context(), id); a.State != store.ApprovalPending {
		t.Fatalf("a refused link decided the approval: %+v", a)
	}
	// The genuine link still works afterwards, once.
	if st, body := linkRequest(t, l.Admin, http.MethodPost, deny); st != 200 {
		t.Fatalf("genuine link: %d %s", st, body)
	}
	if st, body := linkRequest(t, l.Admin, http.MethodPost, deny); st != http.StatusConflict {
		t.Fatalf("genuine link replayed: %d %s, want 409", st, body)
	}
	if r := await(t, held, 10*time.Second); r.err != nil || !r.res.IsError {
		t.Fatalf("call denied by link: %+v %v", r.res, r.err)
	}
	// A link whose expiry has passed is refused even with a good
	// signature (made here as warden makes them: the key is derived from
	// the secret).
	if st, body := linkRequest(t, l.Admin, http.MethodPost, forgeLink(linkSecret, id, store.DecisionOnce, time.Now().Add(-time.Second).Unix())); st != http.StatusForbidden || !strings.Contains(body, "expired") {
		t.Fatalf("expired link: %d %s, want 403 expired", st, body)
	}
	// Without the admin token the admin API is closed, links or not.
	req, _ := http.NewRequest(http.MethodPost, l.Admin+"/v1/approvals/"+id+"/decision", strings.NewReader(`{"decision":"once","by":"eve"}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("decision without the admin token: %d, want 401", resp.StatusCode)
	}
}

// TestWebhookSignatureBindsBodyAndTime checks real deliveries: the
// receiver's check fails on a changed body, another secret, a stale
// timestamp, and a replay after the tolerance.
func TestWebhookSignatureBindsBodyAndTime(t *testing.T) {
	l := newLadder(t)
	c := connect(t, l.URL, opsToken)
	sid := c.GetSessionId()
	held := callAsync(c, "pay", map[string]any{"amount": 50, "to": "x"}, nil)
	d := l.Hook.wait(t, 10*time.Second, "approval.requested", func(m notify.Message) bool {
		return m.Type == notify.TypeApprovalRequested && m.Session == sid
	})
	now := time.Now()
	if err := notify.Verify(hookSecret, d.Header, d.Body, now, time.Minute); err != nil {
		t.Fatalf("a genuine delivery does not verify: %v", err)
	}
	tampered := []byte(strings.Replace(string(d.Body), `"amount":50`, `"amount":5`, 1))
	if string(tampered) == string(d.Body) {
		t.Fatal("test broken: nothing tampered")
	}
	cases := []struct {
		name   string
		secret []byte
		header string
		body   []byte
		at     time.Time
	}{
		{"tampered body", hookSecret, d.Header, tampered, now},
		{"other secret", []byte("another-secret-0123456789abcdef"), d.Header, d.Body, now},
		{"replayed later", hookSecret, d.Header, d.Body, now.Add(10 * time.Minute)},
		{"from the future", hookSecret, d.Header, d.Body, now.Add(-10 * time.Minute)},
		{"upper-case hex", hookSecret, d.Header[:strings.Index(d.Header, "v1=")+3] + strings.ToUpper(d.Header[strings.Index(d.Header, "v1=")+3:]), d.Body, now},
		{"no header", hookSecret, "", d.Body, now},
	}
	for _, tc := range cases {
		if err := notify.Verify(tc.secret, tc.header, tc.body, tc.at, 5*time.Minute); err == nil {
			t.Errorf("%s: verified", tc.name)
		}
	}
	a := l.pending(t, sid, 1)[0]
	l.decide(t, a.ID, store.DecisionDeny)
	await(t, held, 10*time.Second)
}

// forgeLink makes a decision-link token as warden does, with secret.
func forgeLink(secret []byte, id, decision string, exp int64) string {
	k := hmac.New(sha256.New, secret)
	k.Write([]byte("warden decision link v1"))
	payload := fmt.Sprintf("%s|%s|%d", id, decision, exp)
	m := hmac.New(sha256.New, k.Sum(nil))
	m.Write([]byte(payload))
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(payload)) + "." + enc.EncodeToString(m.Sum(nil))
}

func tokenOf(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("token")
}

// linkRequest opens (GET) or submits (POST) a decision link's token.
func linkRequest(t *testing.T, admin, method, token string) (int, string) {
	t.Helper()
	if method == http.MethodGet {
		resp, err := http.Get(admin + "/v1/decide?token=" + url.QueryEscape(token))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return resp.StatusCode, readAll(resp)
	}
	resp, err := http.PostForm(admin+"/v1/decide", url.Values{"token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return resp.StatusCode, readAll(resp)
}

func readAll(resp *http.Response) string {
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
