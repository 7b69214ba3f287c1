package config

import (
	"strings"
	"testing"
	"time"
)

func TestParseSignalSettings(t *testing.T) {
	cfg, err := Parse("w.yaml", fix(minimal+"revalidation:\n  signal_weights: {token_reuse: 60, dormant_token: 0}\n  dormant_after: 240h\n"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.Revalidation
	if r.SignalWeights["token_reuse"] != 60 || r.SignalWeights["dormant_token"] != 0 || r.DormantAfter != 240*time.Hour {
		t.Fatalf("revalidation %+v", r)
	}
	cases := []struct{ yaml, want string }{
		{"revalidation:\n  signal_weights: {token_reuse: -1}\n", "w.yaml:8:33: revalidation.signal_weights.token_reuse must not be negative"},
		{"revalidation:\n  signal_weights: [1]\n", "w.yaml:8:19: revalidation.signal_weights must be a mapping"},
		{"revalidation:\n  dormant_after: -5m\n", "w.yaml:8:18: revalidation.dormant_after must be positive"},
	}
	for _, tc := range cases {
		_, err := Parse("w.yaml", fix(minimal+tc.yaml), noEnv)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.yaml, err, tc.want)
		}
	}
}
