package tools

import (
	"encoding/json"
	"fmt"

	"github.com/mark3labs/mcp-go/mcp"
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
	var n int
	if r, ok := v.(*mcp.CallToolResult); ok && r != nil {
		// A tool result encodes itself with json.Marshal (of a map), so
		// what it returns is compact and HTML-escaped already: it is what
		// json.Marshal gives, without the encoder's second pass over it.
		b, err := r.MarshalJSON()
		if err != nil {
			return 0, fmt.Errorf("unencodable result: %w", err)
		}
		n = len(b)
	} else {
		var c byteCounter
		if err := json.NewEncoder(&c).Encode(v); err != nil {
			return 0, fmt.Errorf("unencodable result: %w", err)
		}
		n = c.n - 1 // Encode ends the value with a newline; Marshal does not
	}
	if n > MaxResultBytes {
		return 0, fmt.Errorf("result of %d bytes exceeds the %d-byte limit", n, MaxResultBytes)
	}
	return n, nil
}
