package tools

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestRedactHidesTheUpstreamURL(t *testing.T) {
	u := &upstream{spec: Spec{Name: "x", URL: "http://127.0.0.1:1/mcp?api_key=s3cret"}}
	err := fmt.Errorf("call: %w", fmt.Errorf(`Post "http://127.0.0.1:1/mcp?api_key=s3cret": %w`, context.DeadlineExceeded))
	got := u.redact(err)
	if strings.Contains(got.Error(), "s3cret") || !strings.Contains(got.Error(), "http://127.0.0.1:1/…") {
		t.Fatalf("redacted error = %q", got)
	}
	if !errors.Is(got, context.DeadlineExceeded) {
		t.Fatal("redaction lost the cause")
	}
	if u.redact(nil) != nil {
		t.Fatal("redact(nil) is not nil")
	}
	plain := errors.New("no URL here")
	if u.redact(plain) != plain {
		t.Fatal("an error without the URL was rewrapped")
	}
}
