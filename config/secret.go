package config

import (
	"fmt"
	"log/slog"
)

// Secret is key material read from the environment. It is a []byte, so it
// can be passed wherever one is wanted, but every way of printing it (fmt
// verbs, slog, JSON) shows "[redacted]" instead of its bytes.
type Secret []byte

// redacted is what a Secret prints as.
const redacted = "[redacted]"

// Format prints "[redacted]" for every verb, including %x and %#v.
func (Secret) Format(f fmt.State, _ rune) { fmt.Fprint(f, redacted) }

// LogValue keeps the bytes out of slog output.
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON keeps the bytes out of JSON.
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText keeps the bytes out of text encodings.
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }
