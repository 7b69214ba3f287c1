package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The signature scheme, as Stripe's: the header
//
//	Warden-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
//
// signs the exact body bytes and the time of sending. A receiver
// recomputes the HMAC with the shared secret, compares in constant time and
// refuses a timestamp too far from its clock, which bounds how long a
// captured request can be replayed; within that window it drops repeats by
// the Warden-Delivery header. Several v1 entries may appear (during a
// secret rotation); one matching is enough. Unknown keys are ignored, so a
// later scheme (v2) can be added beside v1.

// Header names of a delivery.
const (
	HeaderSignature = "Warden-Signature"
	HeaderEvent     = "Warden-Event"
	HeaderDelivery  = "Warden-Delivery"
)

// maxSignatureHeader bounds the header Verify parses.
const maxSignatureHeader = 4096

var (
	errMalformed = errors.New("malformed signature header")
	errMismatch  = errors.New("signature does not match")
	errStale     = errors.New("timestamp outside tolerance")
)

// signature returns the Warden-Signature value for body sent at t.
func signature(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// parseSignature splits a Warden-Signature header into its timestamp (as
// sent, since it is part of what is signed) and its v1 MACs.
func parseSignature(header string) (ts string, sigs [][]byte, err error) {
	if header == "" {
		return "", nil, fmt.Errorf("%w: missing %s header", errMalformed, HeaderSignature)
	}
	if len(header) > maxSignatureHeader {
		return "", nil, fmt.Errorf("%w: %d bytes, more than %d", errMalformed, len(header), maxSignatureHeader)
	}
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return "", nil, fmt.Errorf("%w: element %q is not key=value", errMalformed, part)
		}
		switch k {
		case "t":
			if ts != "" {
				return "", nil, fmt.Errorf("%w: more than one t", errMalformed)
			}
			if v == "" || strings.Trim(v, "0123456789") != "" {
				return "", nil, fmt.Errorf("%w: t=%q is not unix seconds", errMalformed, v)
			}
			if _, err := strconv.ParseInt(v, 10, 64); err != nil {
				return "", nil, fmt.Errorf("%w: t=%q: %w", errMalformed, v, err)
			}
			ts = v
		case "v1":
			// Lower-case hex only, as signed: one MAC has one spelling.
			sig, err := hex.DecodeString(v)
			if err != nil || len(sig) != sha256.Size || v != strings.ToLower(v) {
				return "", nil, fmt.Errorf("%w: v1 is not %d lower-case hex bytes", errMalformed, sha256.Size)
			}
			sigs = append(sigs, sig)
		}
	}
	switch {
	case ts == "":
		return "", nil, fmt.Errorf("%w: no t", errMalformed)
	case len(sigs) == 0:
		return "", nil, fmt.Errorf("%w: no v1 signature", errMalformed)
	}
	return ts, sigs, nil
}

// Verify checks a delivery as its receiver: header is the Warden-Signature
// value, body the request body exactly as received, now the receiver's
// clock. It fails on a missing or malformed header, a signature that does
// not match (compared in constant time), and a timestamp more than
// tolerance before or after now.
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if len(secret) == 0 {
		return errors.New("notify: verify: empty secret")
	}
	if tolerance <= 0 {
		return fmt.Errorf("notify: verify: tolerance must be positive, got %s", tolerance)
	}
	ts, sigs, err := parseSignature(header)
	if err != nil {
		return fmt.Errorf("notify: verify: %w", err)
	}
	want := mac(secret, ts, body)
	matched := false
	for _, sig := range sigs {
		// No early exit: the time taken does not say which entry matched.
		if hmac.Equal(sig, want) {
			matched = true
		}
	}
	if !matched {
		return fmt.Errorf("notify: verify: %w", errMismatch)
	}
	// Checked after the MAC, so an unauthenticated caller learns nothing
	// about the clock.
	sec, _ := strconv.ParseInt(ts, 10, 64) // parseSignature checked it
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("notify: verify: %w: signed at %s, %s from now (tolerance %s)", errStale, time.Unix(sec, 0).UTC().Format(time.RFC3339), d.Round(time.Second), tolerance)
	}
	return nil
}
