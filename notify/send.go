package notify

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// maxRetryAfter caps a receiver's Retry-After, so that one answer cannot
// park a delivery for hours; ctx bounds it further.
const maxRetryAfter = time.Minute

// Send delivers m to every URL at once and waits. Each URL is retried on
// network errors, 5xx and 429 (waiting as Retry-After says, if it does),
// but not on other answers: 2xx is accepted, anything else refused. It
// returns nil when every URL accepted, else the errors of those that did
// not, joined. ctx bounds the whole delivery.
func (s *Sender) Send(ctx context.Context, m Message) error {
	if !validType(m.Type) {
		return fmt.Errorf("notify: unknown message type %q", m.Type)
	}
	if m.Time.IsZero() {
		m.Time = time.Now()
	}
	m.Time = m.Time.UTC()
	b, err := body(m, s.slack)
	if err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	// One id for every URL and retry of this message: a receiver that
	// sees it twice has seen a retry.
	id := deliveryID()
	errs := make([]error, len(s.urls))
	var wg sync.WaitGroup
	for i, u := range s.urls {
		wg.Go(func() { errs[i] = s.deliver(ctx, u, m.Type, id, b) })
	}
	wg.Wait()
	if s.delivered != nil {
		for _, err := range errs {
			s.delivered(m.Type, err)
		}
	}
	return errors.Join(errs...)
}

// deliver posts body to u until it is accepted, refused, or the retries or
// ctx run out.
func (s *Sender) deliver(ctx context.Context, u *url.URL, typ, id string, body []byte) error {
	var last error
	for attempt := 0; ; attempt++ {
		retry, wait, err := s.attempt(ctx, u, typ, id, body)
		if err == nil {
			return nil
		}
		last = err
		if !retry || attempt >= s.retries {
			break
		}
		if wait == 0 {
			wait = s.wait(attempt)
		}
		s.log.Warn("webhook attempt failed; retrying", "url", redact(u), "event", typ, "delivery", id, "attempt", attempt+1, "in", wait.Round(time.Millisecond), "err", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("notify: %s: %s delivery %s: gave up after %d attempts (%w); last: %w", redact(u), typ, id, attempt+1, ctx.Err(), last)
		}
	}
	s.log.Error("webhook not delivered", "url", redact(u), "event", typ, "delivery", id, "err", last)
	return fmt.Errorf("notify: %s: %s delivery %s: %w", redact(u), typ, id, last)
}

// attempt makes one POST. It reports whether a failure is worth retrying
// and how long the receiver asked to wait (0 if it did not say).
func (s *Sender) attempt(ctx context.Context, u *url.URL, typ, id string, body []byte) (retry bool, wait time.Duration, err error) {
	if err := ctx.Err(); err != nil {
		return false, 0, err
	}
	actx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return false, 0, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "warden-webhook/1")
	req.Header.Set(HeaderEvent, typ)
	req.Header.Set(HeaderDelivery, id)
	if len(s.secret) > 0 {
		// Signed per attempt: a retry after a long wait is still fresh.
		req.Header.Set(HeaderSignature, signature(s.secret, time.Now(), body))
	}
	resp, err := s.client.Do(req)
	if err != nil {
		// url.Error repeats the whole URL, which may hold a secret.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		if ctx.Err() != nil {
			return false, 0, fmt.Errorf("post: %w", err)
		}
		if actx.Err() != nil {
			return true, 0, fmt.Errorf("post: no answer within %s: %w", s.timeout, err)
		}
		return true, 0, fmt.Errorf("post: %w", err)
	}
	defer discard(resp.Body)
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return false, 0, nil
	case code == http.StatusTooManyRequests || code >= 500:
		return true, retryAfter(resp.Header.Get("Retry-After"), time.Now()), fmt.Errorf("receiver answered %s", resp.Status)
	default:
		return false, 0, fmt.Errorf("receiver refused: %s", resp.Status)
	}
}

// wait is the backoff before retry number attempt+1: Backoff doubled per
// attempt, with "equal jitter" (half fixed, half random) so that many
// senders retrying together spread out.
func (s *Sender) wait(attempt int) time.Duration {
	d := s.backoff << min(attempt, 16)
	if d <= 0 || d > maxRetryAfter {
		d = maxRetryAfter
	}
	half := d / 2
	return half + rand.N(half+1)
}

// retryAfter parses a Retry-After value (seconds or an HTTP date), capped
// at maxRetryAfter; 0 when absent, malformed or already past.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.Atoi(v); err == nil {
		if n <= 0 {
			return 0
		}
		d = time.Duration(min(n, int(maxRetryAfter/time.Second))) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return max(0, min(d, maxRetryAfter))
}

// deliveryID is a random id for the Warden-Delivery header.
func deliveryID() string {
	b := make([]byte, 16)
	_, _ = crand.Read(b) // never fails (crypto/rand's documented contract)
	return hex.EncodeToString(b)
}
