package supervisor

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/log"
)

// TestForwardSignature: a forwarded request's header verifies only for
// the method, session and body it was signed for, under the cluster's secret,
// within the allowed skew, and gives back the agent's address.
func TestForwardSignature(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	f := newForwarder("http://r1:7800", []byte(strings.Repeat("s", 32)), log.New(discard{}))
	other := newForwarder("http://r1:7800", []byte(strings.Repeat("t", 32)), log.New(discard{}))
	body := `{"jsonrpc":"2.0","id":1,"method":"ping"}`
	agent := forwardClaim{remote: "203.0.113.7:4242", fingerprint: "t13d1516h2_8daaf6152771_b0da82dd1658"}
	good := f.sign("POST", "sid-1", []byte(body), agent, now)
	tests := []struct {
		name, value, method, sid, body string
		at                             time.Time
		wantErr                        string
	}{
		{"as signed", good, "POST", "sid-1", body, now, ""},
		{"within the skew", good, "POST", "sid-1", body, now.Add(forwardSkew - time.Second), ""},
		{"another session", good, "POST", "sid-2", body, now, "does not verify"},
		{"another method", good, "DELETE", "sid-1", body, now, "does not verify"},
		{"another body", good, "POST", "sid-1", `{"jsonrpc":"2.0","id":1,"method":"tools/call"}`, now, "does not verify"},
		{"another secret", other.sign("POST", "sid-1", []byte(body), agent, now), "POST", "sid-1", body, now, "does not verify"},
		{"another address", strings.Replace(good, "203.0.113.7", "198.51.100.1", 1), "POST", "sid-1", body, now, "does not verify"},
		{"another fingerprint", strings.Replace(good, base64.RawURLEncoding.EncodeToString([]byte(agent.fingerprint)), base64.RawURLEncoding.EncodeToString([]byte("forged")), 1), "POST", "sid-1", body, now, "does not verify"},
		{"too old", good, "POST", "sid-1", body, now.Add(forwardSkew + time.Second), "from now"},
		{"from the future", good, "POST", "sid-1", body, now.Add(-forwardSkew - time.Second), "from now"},
		{"malformed", "r1 x", "POST", "sid-1", body, now, "malformed"},
		{"bad time", "r1 soon nonce 1.2.3.4:5 - sig", "POST", "sid-1", body, now, "malformed time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			claim, _, err := f.verify(tt.value, tt.method, tt.sid, []byte(tt.body), tt.at)
			switch {
			case tt.wantErr == "" && (err != nil || claim != agent):
				t.Fatalf("verify = %+v, %v; want the agent's address and fingerprint", claim, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("verify = %+v, %v; want an error with %q", claim, err, tt.wantErr)
			}
		})
	}
	if claim, _, err := f.verify(f.sign("GET", "sid-1", nil, forwardClaim{}, now), "GET", "sid-1", nil, now); err != nil || claim != (forwardClaim{}) {
		t.Fatalf("no address, no fingerprint: %+v, %v", claim, err)
	}
	// Two identical requests signed in one second are told apart: the
	// second is not taken for a replay of the first.
	_, sig1, err1 := f.verify(f.sign("GET", "sid-1", nil, forwardClaim{}, now), "GET", "sid-1", nil, now)
	_, sig2, err2 := f.verify(f.sign("GET", "sid-1", nil, forwardClaim{}, now), "GET", "sid-1", nil, now)
	if err1 != nil || err2 != nil || sig1 == sig2 {
		t.Fatalf("two identical requests signed in one second: %q %v, %q %v; want two signatures", sig1, err1, sig2, err2)
	}
}

// TestSeenForwardsSingleUse: a verified forward is served once; it is
// remembered as long as its signature can verify, and a full memory
// refuses new forwards rather than forget one.
func TestSeenForwardsSingleUse(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := newSeenForwards(3)
	steps := []struct {
		name string
		sig  string
		at   time.Time
		want error
	}{
		{"first", "a", now, nil},
		{"replayed at once", "a", now, errReplayed},
		{"another", "b", now.Add(time.Second), nil},
		{"replayed as its signature runs out", "a", now.Add(2*forwardSkew - time.Second), errReplayed},
		{"replayed after a generation turned", "b", now.Add(2*forwardSkew + time.Second), errReplayed},
		{"a third", "c", now.Add(2*forwardSkew + time.Second), nil},
		{"over the bound", "d", now.Add(2*forwardSkew + time.Second), errTooManyForwards},
		{"room again once the old generation goes", "d", now.Add(4*forwardSkew + 2*time.Second), nil},
		{"the old generation forgotten", "a", now.Add(4*forwardSkew + 2*time.Second), nil},
	}
	for _, st := range steps {
		if err := s.first(st.sig, st.at); !errors.Is(err, st.want) || (st.want == nil) != (err == nil) {
			t.Fatalf("%s: first(%q) = %v, want %v", st.name, st.sig, err, st.want)
		}
	}
}
