package tools

import (
	"encoding/json"
	"fmt"
)

// byteCounter is an io.Writer that keeps only how much was written.
type byteCounter struct{ n int }

func (c *byteCounter) Write(p []byte) (int, error) {
	c.n += len(p)
	return len(p), nil
}

// sizeOf is a result's encoded size (what json.Marshal would produce),
// refused beyond MaxResultBytes. It counts what the encoder writes rather
// than keeping the bytes: a result is measured on every call, and the
// copy json.Marshal hands back would be garbage at once.
func sizeOf(v any) (int, error) {
	var c byteCounter
	if err := json.NewEncoder(&c).Encode(v); err != nil {
		return 0, fmt.Errorf("unencodable result: %w", err)
	}
	n := c.n - 1 // Encode ends the value with a newline; Marshal does not
	if n > MaxResultBytes {
		return 0, fmt.Errorf("result of %d bytes exceeds the %d-byte limit", n, MaxResultBytes)
	}
	return n, nil
}
