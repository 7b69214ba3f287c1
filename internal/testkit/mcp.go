package testkit

import (
	"context"
	"fmt"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
)

// initTimeout bounds the initialize handshake, which on loopback takes
// milliseconds.
const initTimeout = 10 * time.Second

// Start starts c and runs the initialize handshake as client name, with
// the legacy protocol version (without it Initialize first probes
// server/discover and can wait seconds). c is closed if either fails.
// Start's context is background: for Streamable HTTP it bounds the life of
// the standing GET stream, not just the start.
func Start(c *client.Client, name string) error {
	if err := c.Start(context.Background()); err != nil {
		_ = c.Close()
		return fmt.Errorf("start %s: %w", name, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), initTimeout)
	defer cancel()
	init := mcp.InitializeRequest{}
	init.Params.ProtocolVersion = mcp.LATEST_LEGACY_PROTOCOL_VERSION
	init.Params.ClientInfo = mcp.Implementation{Name: name, Version: "0.1"}
	if _, err := c.Initialize(ctx, init); err != nil {
		_ = c.Close()
		return fmt.Errorf("initialize %s: %w", name, err)
	}
	return nil
}

// Dial opens an initialised Streamable HTTP session to url as client
// name, sending token as the bearer token. topts add transport options
// (a standing GET stream, a session to resume); copts client options.
func Dial(url, token, name string, topts []transport.StreamableHTTPCOption, copts ...client.ClientOption) (*client.Client, error) {
	topts = append([]transport.StreamableHTTPCOption{
		transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + token}),
	}, topts...)
	tr, err := transport.NewStreamableHTTP(url, topts...)
	if err != nil {
		return nil, fmt.Errorf("transport to %s: %w", url, err)
	}
	copts = append([]client.ClientOption{client.WithProtocolVersion(mcp.LATEST_LEGACY_PROTOCOL_VERSION)}, copts...)
	c := client.NewClient(tr, copts...)
	if err := Start(c, name); err != nil {
		return nil, err
	}
	return c, nil
}
