package main

import (
	"net"
	"testing"

	"github.com/warden-dev/warden/config"
)

// TestAdvertised: a replica is reached at its configured advertise URL,
// or else at its listener's own address, on loopback even when it
// listens on every address.
func TestAdvertised(t *testing.T) {
	tests := []struct {
		name      string
		advertise string
		ln        net.Addr
		want      string
	}{
		{"configured", "http://10.0.0.5:7800", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4000}, "http://10.0.0.5:7800"},
		{"loopback listener", "", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4000}, "http://127.0.0.1:4000"},
		{"IPv6 loopback listener", "", &net.TCPAddr{IP: net.IPv6loopback, Port: 4001}, "http://[::1]:4001"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := advertised(&config.Postgres{Advertise: tt.advertise}, tt.ln); got != tt.want {
				t.Fatalf("advertised = %q, want %q", got, tt.want)
			}
		})
	}
}
