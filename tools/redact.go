package tools

import (
	"net/url"
	"strings"
)

// redactedError hides an upstream's URL in an error's text: a URL can
// carry a credential (an api_key in its query, a token in its path), and
// errors reach agents, history and logs. errors.Is and As still see the
// cause.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redact returns err with the upstream's URL replaced by its scheme and
// host; nil stays nil.
func (u *upstream) redact(err error) error {
	if err == nil || u.spec.URL == "" {
		return err
	}
	msg := err.Error()
	if !strings.Contains(msg, u.spec.URL) {
		return err
	}
	return &redactedError{msg: strings.ReplaceAll(msg, u.spec.URL, redactURL(u.spec.URL)), err: err}
}

// redactURL keeps a URL's scheme and host only.
func redactURL(raw string) string {
	p, err := url.Parse(raw)
	if err != nil || p.Host == "" {
		return "[upstream URL]"
	}
	return p.Scheme + "://" + p.Host + "/…"
}
