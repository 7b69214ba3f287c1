package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestVerify(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_770_000_000, 0)
	body := []byte(`{"type":"approval.requested"}`)
	good := signature(testSecret, now, body)
	other := signature([]byte("another secret"), now, body)
	v1 := good[strings.Index(good, "v1="):]
	tests := []struct {
		name    string
		secret  []byte
		header  string
		body    []byte
		now     time.Time
		wantErr error // nil: accepted
	}{
		{"valid", testSecret, good, body, now, nil},
		{"valid, receiver clock a little ahead", testSecret, good, body, now.Add(4 * time.Minute), nil},
		{"valid, with spaces and an unknown scheme", testSecret, "t=" + fmt.Sprint(now.Unix()) + ", v0=zz, " + v1, body, now, nil},
		{"rotation: second v1 matches", testSecret, other + "," + v1, body, now, nil},
		{"forged with another secret", testSecret, other, body, now, errMismatch},
		{"tampered body", testSecret, good, []byte(`{"type":"approval.decided"}`), now, errMismatch},
		{"timestamp changed", testSecret, strings.Replace(good, fmt.Sprint(now.Unix()), fmt.Sprint(now.Unix()+1), 1), body, now, errMismatch},
		{"stale", testSecret, good, body, now.Add(6 * time.Minute), errStale},
		{"from the future", testSecret, signature(testSecret, now.Add(time.Hour), body), body, now, errStale},
		{"missing", testSecret, "", body, now, errMalformed},
		{"no t", testSecret, v1, body, now, errMalformed},
		{"no v1", testSecret, "t=" + fmt.Sprint(now.Unix()), body, now, errMalformed},
		{"two t", testSecret, "t=1,t=2," + v1, body, now, errMalformed},
		{"t not a number", testSecret, "t=abc," + v1, body, now, errMalformed},
		{"negative t", testSecret, "t=-5," + v1, body, now, errMalformed},
		{"t overflows", testSecret, "t=9999999999999999999," + v1, body, now, errMalformed},
		{"v1 not hex", testSecret, "t=1,v1=xyz", body, now, errMalformed},
		{"v1 short", testSecret, "t=1,v1=abcd", body, now, errMalformed},
		{"element without =", testSecret, good + ",junk", body, now, errMalformed},
		{"huge", testSecret, good + strings.Repeat(",x=y", 2000), body, now, errMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.secret, tt.header, tt.body, tt.now, 5*time.Minute)
			if tt.wantErr == nil && err != nil {
				t.Fatalf("Verify: %v; want accepted", err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("Verify: %v; want %v", err, tt.wantErr)
			}
		})
	}
	if err := Verify(nil, good, body, now, time.Minute); err == nil {
		t.Error("Verify with an empty secret: no error")
	}
	if err := Verify(testSecret, good, body, now, 0); err == nil {
		t.Error("Verify with zero tolerance: no error")
	}
}

// TestSignatureIsStripeScheme pins the scheme receivers implement: the
// HMAC of "<t>.<body>", hex, under v1.
func TestSignatureIsStripeScheme(t *testing.T) {
	t.Parallel()
	at := time.Unix(1_700_000_000, 0)
	m := hmac.New(sha256.New, []byte("k"))
	m.Write([]byte("1700000000.{}"))
	want := "t=1700000000,v1=" + hex.EncodeToString(m.Sum(nil))
	if got := signature([]byte("k"), at, []byte("{}")); got != want {
		t.Fatalf("signature = %s; want %s", got, want)
	}
}

// FuzzVerify feeds arbitrary headers to the parser. Besides not panicking,
// an accepted header must carry the true MAC for the body: nothing the
// fuzzer can guess.
func FuzzVerify(f *testing.F) {
	now := time.Unix(1_770_000_000, 0)
	body := []byte(`{"a":1}`)
	valid := signature(testSecret, now, body)
	for _, seed := range []string{valid, "", "t=", "v1=", "t=1,v1=00", "t=1,,v1=", ",,,", "t=1770000000,v1=" + strings.Repeat("a", 64), valid + ",v1=" + strings.Repeat("0", 64), "t=1770000000 ,v1=x"} {
		f.Add(seed, body)
	}
	f.Fuzz(func(t *testing.T, header string, b []byte) {
		err := Verify(testSecret, header, b, now, 5*time.Minute)
		if err == nil {
			ts, _, perr := parseSignature(header)
			if perr != nil {
				t.Fatalf("accepted a header the parser refuses: %v", perr)
			}
			if !strings.Contains(header, hex.EncodeToString(mac(testSecret, ts, b))) {
				t.Fatalf("accepted %q without the true MAC", header)
			}
			return
		}
		if !errors.Is(err, errMalformed) && !errors.Is(err, errMismatch) && !errors.Is(err, errStale) {
			t.Fatalf("error of no known kind: %v", err)
		}
	})
}
