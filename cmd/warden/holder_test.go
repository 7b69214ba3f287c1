package main

import (
	"net"
	"testing"
)

// TestLocalURL: serve publishes a loopback endpoint for a stdio bridge,
// also when it listens on every address (a bridge trusts only loopback).
func TestLocalURL(t *testing.T) {
	for _, tc := range []struct{ listen, want string }{
		{"127.0.0.1:8080", "http://127.0.0.1:8080/mcp"},
		{"[::1]:8080", "http://[::1]:8080/mcp"},
		{"0.0.0.0:8080", "http://127.0.0.1:8080/mcp"},
		{"[::]:8080", "http://[::1]:8080/mcp"},
		{"10.1.2.3:8080", "http://10.1.2.3:8080/mcp"},
	} {
		addr, err := net.ResolveTCPAddr("tcp", tc.listen)
		if err != nil {
			t.Fatal(err)
		}
		if got := localURL(addr); got != tc.want {
			t.Errorf("localURL(%s) = %s, want %s", tc.listen, got, tc.want)
		}
	}
}
