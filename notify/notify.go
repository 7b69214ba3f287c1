// Package notify delivers warden's webhooks: approval requests with their
// decision links, decisions, kills and flags, as signed JSON POSTs (or
// Slack-compatible messages) to the configured URLs, with retries and
// timeouts. Receivers check a delivery with Verify.
package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/charmbracelet/log"
)

// Defaults for Options' zero values.
const (
	DefaultTimeout = 5 * time.Second
	DefaultRetries = 4
	DefaultBackoff = 500 * time.Millisecond
	// MaxInFlight bounds the deliveries that Go runs at once.
	MaxInFlight = 16
	// MaxQueued bounds the deliveries waiting for one of those.
	MaxQueued = 4096
)

// Options configure a Sender.
type Options struct {
	// URLs receive every message. At least one is required; http or https.
	URLs []string
	// Secret signs each delivery (see Verify). Required unless Slack is
	// set: a Slack webhook URL is itself the credential, and Slack ignores
	// the signature.
	Secret []byte
	// Timeout bounds each attempt, from connecting to reading the status
	// (DefaultTimeout if zero).
	Timeout time.Duration
	// Retries is how many times a failed attempt is retried (DefaultRetries
	// if zero; negative for none).
	Retries int
	// Backoff is the wait before the first retry; it doubles for each
	// retry after, with jitter (DefaultBackoff if zero).
	Backoff time.Duration
	// Slack sends Slack's {"text", "blocks"} payload instead of warden's JSON.
	Slack bool
	// Client sends the requests; by default one that does not follow
	// redirects (a redirected webhook counts as not accepted).
	Client *http.Client
	// Logger reports failed attempts and dropped messages (log.Default() if nil).
	Logger *log.Logger
	// Delivered, when set, is told how each message's delivery to each URL
	// ended (err nil when accepted), retries done: for metrics. It must
	// not block.
	Delivered func(eventType string, err error)
}

// Sender delivers Messages. Its methods are safe for concurrent use.
type Sender struct {
	urls    []*url.URL
	secret  []byte
	timeout time.Duration
	retries int
	backoff time.Duration
	slack   bool
	client  *http.Client
	log     *log.Logger
	// delivered: Options.Delivered, or nil.
	delivered func(eventType string, err error)

	// The pool behind Go: queued deliveries, run by at most MaxInFlight
	// workers; stop cancels them when Close gives up waiting.
	mu      sync.Mutex
	queue   []job
	running int
	closed  bool
	wg      sync.WaitGroup
	stop    context.Context
	cancel  context.CancelFunc
}

// New checks o and builds a Sender.
func New(o Options) (*Sender, error) {
	if len(o.URLs) == 0 {
		return nil, errors.New("notify: no webhook URLs")
	}
	s := &Sender{
		secret: o.Secret, timeout: o.Timeout, retries: o.Retries, backoff: o.Backoff,
		slack: o.Slack, client: o.Client, log: o.Logger, delivered: o.Delivered,
	}
	s.stop, s.cancel = context.WithCancel(context.Background())
	for _, raw := range o.URLs {
		u, err := url.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("notify: webhook URL: %w", err)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("notify: webhook URL %s: want http:// or https:// with a host", redact(u))
		}
		s.urls = append(s.urls, u)
	}
	if len(o.Secret) == 0 && !o.Slack {
		return nil, errors.New("notify: empty secret: warden's webhooks are signed")
	}
	switch {
	case o.Timeout < 0:
		return nil, fmt.Errorf("notify: negative timeout %s", o.Timeout)
	case o.Timeout == 0:
		s.timeout = DefaultTimeout
	}
	switch {
	case o.Retries < 0:
		s.retries = 0
	case o.Retries == 0:
		s.retries = DefaultRetries
	}
	switch {
	case o.Backoff < 0:
		return nil, fmt.Errorf("notify: negative backoff %s", o.Backoff)
	case o.Backoff == 0:
		s.backoff = DefaultBackoff
	}
	if s.client == nil {
		s.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if s.log == nil {
		s.log = log.Default()
	}
	return s, nil
}

// redact is a URL fit for logs and errors: scheme and host only, since a
// webhook's path or query often is its secret (Slack's are).
func redact(u *url.URL) string {
	return u.Scheme + "://" + u.Host
}

// discard drains and closes a response body so the connection is reused.
func discard(r io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r, 64<<10))
	_ = r.Close()
}
