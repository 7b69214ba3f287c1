package supervisor

import (
	"context"
	"encoding/base64"
	"errors"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/warden-dev/warden/store"
)

var linkTestSecret = []byte("link-secret-0123456789abcdef")

func newTestLinkSigner(t testing.TB, secret []byte) *linkSigner {
	t.Helper()
	l, err := newLinkSigner(secret)
	if err != nil {
		t.Fatalf("newLinkSigner: %v", err)
	}
	return l
}

func TestLinkRoundTrip(t *testing.T) {
	t.Parallel()
	l := newTestLinkSigner(t, linkTestSecret)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, id := range []string{"ap-1", "a|b|c", "ünï|cödé", strings.Repeat("x", 500)} {
		for _, d := range []string{store.DecisionOnce, store.DecisionSession, store.DecisionDeny, store.DecisionDenyKill} {
			tok := l.sign(id, d, now.Add(time.Minute))
			if strings.ContainsAny(tok, "+/= ") {
				t.Fatalf("token %q is not URL-safe", tok)
			}
			gotID, gotDec, err := l.verify(tok, now)
			if err != nil || gotID != id || gotDec != d {
				t.Fatalf("verify(sign(%q, %q)) = %q, %q, %v", id, d, gotID, gotDec, err)
			}
		}
	}
}

func TestLinkRefused(t *testing.T) {
	t.Parallel()
	l := newTestLinkSigner(t, linkTestSecret)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	exp := now.Add(2 * time.Minute)
	good := l.sign("ap-1", store.DecisionDeny, exp)
	payload, sig, _ := strings.Cut(good, ".")
	enc := base64.RawURLEncoding
	// signed makes a token with a valid MAC over any payload: what only a
	// bug of ours could produce.
	signed := func(p string) string {
		return enc.EncodeToString([]byte(p)) + "." + enc.EncodeToString(l.mac([]byte(p)))
	}
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	tests := []struct {
		name  string
		token string
		now   time.Time
		want  error
	}{
		{"forged with another secret", newTestLinkSigner(t, []byte("another-secret-0123456789")).sign("ap-1", store.DecisionDeny, exp), now, errLinkForged},
		{"decision swapped", enc.EncodeToString([]byte("ap-1|once|"+itoa(exp))) + "." + sig, now, errLinkForged},
		{"expiry extended", enc.EncodeToString([]byte("ap-1|deny|"+itoa(exp.Add(time.Hour)))) + "." + sig, now, errLinkForged},
		{"other approval", enc.EncodeToString([]byte("ap-2|deny|"+itoa(exp))) + "." + sig, now, errLinkForged},
		{"payload byte flipped", flip(payload, 3) + "." + sig, now, errLinkForged},
		{"signature byte flipped", payload + "." + flip(sig, 5), now, errLinkForged},
		{"expired", good, exp, errLinkExpired},
		{"long expired", good, exp.Add(24 * time.Hour), errLinkExpired},
		{"empty", "", now, errLinkMalformed},
		{"no dot", payload, now, errLinkMalformed},
		{"payload not base64", "!!!." + sig, now, errLinkMalformed},
		{"padded base64", payload + "=." + sig, now, errLinkMalformed},
		{"signature not base64", payload + ".***", now, errLinkMalformed},
		{"signature truncated", payload + "." + sig[:20], now, errLinkMalformed},
		{"two dots", good + ".x", now, errLinkMalformed},
		{"huge", strings.Repeat("A", maxLinkToken+1), now, errLinkMalformed},
		{"signed, no separators", signed("ap-1"), now, errLinkMalformed},
		{"signed, unknown decision", signed("ap-1|maybe|" + itoa(exp)), now, errLinkMalformed},
		{"signed, empty id", signed("|once|" + itoa(exp)), now, errLinkMalformed},
		{"signed, bad expiry", signed("ap-1|once|soon"), now, errLinkMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, dec, err := l.verify(tt.token, tt.now)
			if !errors.Is(err, tt.want) {
				t.Fatalf("verify = %q, %q, %v; want %v", id, dec, err, tt.want)
			}
			if id != "" || dec != "" {
				t.Fatalf("refused token still returned %q, %q", id, dec)
			}
		})
	}
}

// itoa is t as a token's expiry field.
func itoa(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

func TestNewLinkSignerRefusesShortSecret(t *testing.T) {
	t.Parallel()
	for _, s := range [][]byte{nil, []byte("short")} {
		if _, err := newLinkSigner(s); err == nil || !strings.Contains(err.Error(), "at least 16") {
			t.Errorf("newLinkSigner(%q): %v", s, err)
		}
	}
}

// TestLinksAreSingleUse: the links for an approval decide it through the
// store once; the second link opened, or the same one again, is refused.
func TestLinksAreSingleUse(t *testing.T) {
	t.Parallel()
	db, err := store.Open(filepath.Join(t.TempDir(), "warden.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	ctx := context.Background()
	now := time.Now()
	ap := store.Approval{ID: "ap-1", Session: "s-1", Agent: "billing", Tool: "refund", Created: now, Expires: now.Add(time.Minute)}
	if err := db.CreateApproval(ctx, ap); err != nil {
		t.Fatal(err)
	}
	l := newTestLinkSigner(t, linkTestSecret)
	links, err := l.links("https://warden.example/approvals/decide?src=hook", ap.ID, ap.Expires)
	if err != nil {
		t.Fatal(err)
	}
	if len(links) != 4 {
		t.Fatalf("%d links; want 4", len(links))
	}
	open := func(link string) error {
		u, err := url.Parse(link)
		if err != nil {
			return err
		}
		if u.Query().Get("src") != "hook" || u.Path != "/approvals/decide" {
			t.Fatalf("link %s lost its base", link)
		}
		id, dec, err := l.verify(u.Query().Get("token"), time.Now())
		if err != nil {
			return err
		}
		_, err = db.DecideApproval(ctx, id, dec, "link", time.Now())
		return err
	}
	if err := open(links[store.DecisionSession]); err != nil {
		t.Fatalf("first link: %v", err)
	}
	for _, d := range []string{store.DecisionSession, store.DecisionDenyKill} {
		if err := open(links[d]); !errors.Is(err, store.ErrDecided) {
			t.Fatalf("opening the %s link after a decision: %v; want ErrDecided", d, err)
		}
	}
	got, _ := db.Approval(ctx, ap.ID)
	if got.Decision != store.DecisionSession || got.DecidedBy != "link" {
		t.Fatalf("stored %s by %s; want session by link", got.Decision, got.DecidedBy)
	}
	for _, bad := range []string{"ftp://x/y", "/relative", "http://%zz"} {
		if _, err := l.links(bad, ap.ID, ap.Expires); err == nil {
			t.Errorf("links(%q): no error", bad)
		}
	}
}

// FuzzLinkVerify: verify never panics, and what it accepts is exactly a
// token sign would make.
func FuzzLinkVerify(f *testing.F) {
	l := newTestLinkSigner(f, linkTestSecret)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, seed := range []string{
		l.sign("ap-1", store.DecisionOnce, now.Add(time.Minute)),
		l.sign("a|b", store.DecisionDenyKill, now.Add(time.Hour)),
		l.sign("ap-1", store.DecisionOnce, now.Add(-time.Minute)),
		"", ".", "a.b", "YXA.", "YXAtMXxvbmNlfDE.AAAA",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		id, dec, err := l.verify(token, now)
		if err != nil {
			if !errors.Is(err, errLinkMalformed) && !errors.Is(err, errLinkForged) && !errors.Is(err, errLinkExpired) {
				t.Fatalf("error of no known kind: %v", err)
			}
			return
		}
		p, _, _ := strings.Cut(token, ".")
		raw, _ := base64.RawURLEncoding.DecodeString(p)
		_, exp, _ := cutLast(string(raw), "|")
		if want := enc64(string(raw)) + "." + base64.RawURLEncoding.EncodeToString(l.mac(raw)); token != want || !strings.HasPrefix(string(raw), id+"|"+dec+"|") || exp == "" {
			t.Fatalf("accepted %q as %q, %q; sign would make %q", token, id, dec, want)
		}
	})
}

func enc64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
