package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestServeLogsEachUpstreamOnce runs the real binary and reads its
// stderr: each upstream's connection is logged once at start, where it
// used to be logged twice (by the hub, then again by serve).
func TestServeLogsEachUpstreamOnce(t *testing.T) {
	bin, cfg, _ := deskServeConfig(t, "", "bot", crashToken)
	p := startServe(t, bin, cfg)
	var about []string
	for _, line := range strings.Split(p.stderr.String(), "\n") {
		var l struct {
			Msg      string `json:"msg"`
			Upstream string `json:"upstream"`
		}
		if json.Unmarshal([]byte(line), &l) == nil && l.Upstream == "desk" && strings.Contains(l.Msg, "connect") {
			about = append(about, line)
		}
	}
	if len(about) != 1 {
		t.Fatalf("%d lines about connecting to desk, want 1:\n%s\nall of stderr:\n%s", len(about), strings.Join(about, "\n"), p.stderr.String())
	}
}
