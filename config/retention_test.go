package config

import (
	"strings"
	"testing"
	"time"
)

func TestParseRetention(t *testing.T) {
	src := minimal + `    retention: {max_age: 24h}
    record_results: {default: full, tools: {"search_*": digest, "search_one": full}, withheld: full}
  - name: other
    token_sha256: ` + HashToken("token-b") + `
    record_results: digest
retention:
  max_age: 720h
  max_bytes: 10GiB
  export_dir: ./export
`
	cfg, err := Parse("/etc/warden/w.yaml", fix(src), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.Retention
	if r == nil || r.MaxAge != 720*time.Hour || r.MaxBytes != 10<<30 || r.ExportDir != "/etc/warden/export" || r.Every != DefaultRetentionEvery {
		t.Fatalf("Retention = %+v", r)
	}
	bot, other := cfg.Agents[0], cfg.Agents[1]
	for _, c := range []struct {
		agent    *Agent
		age      time.Duration
		maxBytes int64
	}{{bot, 24 * time.Hour, 10 << 30}, {other, 720 * time.Hour, 10 << 30}} {
		if age, size := r.Limits(c.agent); age != c.age || size != c.maxBytes {
			t.Errorf("Limits(%s) = %s, %d; want %s, %d", c.agent.Name, age, size, c.age, c.maxBytes)
		}
	}
	for _, c := range []struct {
		agent  *Agent
		tool   string
		digest bool
	}{
		{bot, "search_web", true},
		{bot, "search_one", true}, // the first match in file order decides
		{bot, "send", false},
		{other, "anything", true},
	} {
		if got := c.agent.RecordResults.Digest(c.tool); got != c.digest {
			t.Errorf("%s Digest(%s) = %v, want %v", c.agent.Name, c.tool, got, c.digest)
		}
	}
	if !bot.RecordResults.KeepWithheld() || other.RecordResults.KeepWithheld() {
		t.Errorf("KeepWithheld: %s %v, %s %v; want true (withheld: full), false (the default)",
			bot.Name, bot.RecordResults.KeepWithheld(), other.Name, other.RecordResults.KeepWithheld())
	}
}

func TestParseWithoutRetentionKeepsEverything(t *testing.T) {
	cfg, err := Parse("w.yaml", fix(minimal), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Retention != nil || cfg.Agents[0].RecordResults.Digest("x") || cfg.Agents[0].RecordResults.KeepWithheld() {
		t.Fatalf("defaults: retention %+v, digest %v; want none and full results", cfg.Retention, cfg.Agents[0].RecordResults.Digest("x"))
	}
	if age, size := cfg.Retention.Limits(cfg.Agents[0]); age != 0 || size != 0 {
		t.Fatalf("Limits without retention = %s, %d", age, size)
	}
}

func TestParseRetentionErrors(t *testing.T) {
	cases := []struct {
		name  string
		src   string
		wants []want
	}{
		{"no export_dir", minimal + "retention: {max_age: 24h}\n", []want{{7, 12, "retention needs export_dir"}}},
		{"no limit", minimal + "retention: {export_dir: x}\n", []want{{7, 1, "retention sets no limit"}}},
		{"zero age", minimal + "retention: {max_age: 0s, export_dir: x}\n", []want{{7, 22, "must be positive"}}},
		{"negative every", minimal + "retention: {max_age: 1h, export_dir: x, every: -1m}\n", []want{{7, 48, "retention.every must be positive"}}},
		{"bad size", minimal + "retention: {max_bytes: 10 gigs, export_dir: x}\n", []want{{7, 24, `retention.max_bytes "10 gigs": is not a size`}}},
		{"zero size", minimal + "retention: {max_bytes: 0, export_dir: x}\n", []want{{7, 24, "must be positive, got 0"}}},
		{"unknown field", minimal + "retention: {max_agee: 1h, export_dir: x}\n", []want{{7, 1, "sets no limit"}, {7, 13, `did you mean "max_age"?`}}},
		{"agent retention without section", minimal + "    retention: {max_age: 1h}\n", []want{{7, 5, "no top-level retention section"}}},
		{"bad mode", minimal + "    record_results: everything\n", []want{{7, 21, `"everything" is not one of full, digest`}}},
		{"bad withheld mode", minimal + "    record_results: {withheld: clear}\n", []want{{7, 32, `record_results.withheld "clear" is not one of full, digest`}}},
		{"bad tool mode", minimal + "    record_results: {tools: {\"a*\": hash}}\n", []want{{7, 36, `record_results.tools.a* "hash"`}}},
		{"bad pattern", minimal + "    record_results: {tools: {\"[\": digest}}\n", []want{{7, 30, "not a valid glob pattern"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { mustFail(t, fix(c.src), noEnv, c.wants...) })
	}
}

func TestParseByteSize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64 // 0: an error
	}{
		{"4096", 4096}, {"10GiB", 10 << 30}, {"500 MB", 500e6}, {"1.5KiB", 1536}, {"2TB", 2e12}, {"7B", 7},
		{"", 0}, {"GiB", 0}, {"-1GiB", 0}, {"0.1B", 0}, {"1e3", 0}, {"inf", 0}, {"NaN", 0}, {"0x10", 0}, {"1_000", 0},
		{"10gib", 0}, {"99999999TiB", 0},
	} {
		got, err := parseByteSize(c.in)
		if (err != nil) != (c.want == 0) || got != c.want {
			t.Errorf("parseByteSize(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
		if err != nil && !strings.Contains(err.Error(), "size") && !strings.Contains(err.Error(), "between") {
			t.Errorf("parseByteSize(%q) error %q says nothing useful", c.in, err)
		}
	}
}
