package sink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// httpTimeout bounds one POST; the sink retries after it.
const httpTimeout = 30 * time.Second

// httpDest POSTs each batch to an endpoint.
type httpDest struct {
	url     string
	headers http.Header
	client  *http.Client
}

// HTTP returns a destination that POSTs each batch to url as JSON Lines
// (application/x-ndjson) with headers; a 2xx answer is delivery, anything
// else (a redirect too) an error that the sink retries.
func HTTP(url string, headers http.Header) Destination {
	// A redirect is not followed (it is a non-2xx answer): it would take
	// the history, and the headers' credentials, to another endpoint,
	// past the check that the URL is https or loopback.
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &httpDest{url: url, headers: headers.Clone(), client: &http.Client{Timeout: httpTimeout, CheckRedirect: noRedirect}}
}

// Deliver POSTs batch once.
func (d *httpDest) Deliver(ctx context.Context, batch []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(batch))
	if err != nil {
		return fmt.Errorf("sink %s: %w", d.url, err)
	}
	for k, vs := range d.headers {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := d.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // it names the URL, query and all
		}
		return fmt.Errorf("sink: POST %s: %w", redacted(d.url), err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("sink: POST %s: %s: %q", redacted(d.url), resp.Status, body)
	}
	return nil
}

// redacted is u for logs: a query may hold a token.
func redacted(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "<unparseable url>"
	}
	p.User, p.RawQuery, p.Fragment, p.RawFragment = nil, "", "", ""
	return p.String()
}

// Close releases idle connections.
func (d *httpDest) Close() error {
	d.client.CloseIdleConnections()
	return nil
}
