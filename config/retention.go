package config

import (
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
)

// DefaultRetentionEvery is how often retention runs when it is configured.
const DefaultRetentionEvery = time.Hour

// Retention is the history retention policy: ended sessions past MaxAge,
// or an agent's oldest ended sessions beyond MaxBytes, are exported to
// ExportDir and then their events are pruned. A zero limit sets none.
type Retention struct {
	MaxAge    time.Duration
	MaxBytes  int64
	ExportDir string // absolute; always set: nothing is pruned unexported
	Every     time.Duration

	limitsGiven bool // max_age or max_bytes was written, valid or not
}

// AgentRetention overrides the global limits for one agent; a zero field
// keeps the global value.
type AgentRetention struct {
	MaxAge   time.Duration
	MaxBytes int64
}

// Limits returns the retention limits of agent a: its own where it sets
// them, the global ones otherwise. r may be nil (no retention).
func (r *Retention) Limits(a *Agent) (maxAge time.Duration, maxBytes int64) {
	if r == nil {
		return 0, 0
	}
	maxAge, maxBytes = r.MaxAge, r.MaxBytes
	if a != nil && a.Retention != nil {
		if a.Retention.MaxAge > 0 {
			maxAge = a.Retention.MaxAge
		}
		if a.Retention.MaxBytes > 0 {
			maxBytes = a.Retention.MaxBytes
		}
	}
	return maxAge, maxBytes
}

// How an agent's tool results are recorded.
const (
	ResultsFull   = "full"   // text and structured content, up to 64 KiB
	ResultsDigest = "digest" // size and SHA-256 only
)

// RecordResults says how an agent's tool results are recorded: Default,
// unless one of Tools matches the tool's exposed name (the first match in
// file order decides). Withheld is how a result that a result rule
// withheld from the agent is recorded: ResultsDigest (the default, with
// the rules that fired) or ResultsFull.
type RecordResults struct {
	Default  string
	Tools    []ToolResults
	Withheld string
}

// KeepWithheld reports whether withheld results are recorded in clear.
func (r RecordResults) KeepWithheld() bool { return r.Withheld == ResultsFull }

// ToolResults is one per-tool override of RecordResults.
type ToolResults struct {
	Pattern string // path.Match pattern over exposed tool names
	Mode    string // ResultsFull or ResultsDigest
}

// Digest reports whether the results of tool are recorded as a digest only.
func (r RecordResults) Digest(tool string) bool {
	for _, t := range r.Tools {
		if ok, _ := path.Match(t.Pattern, tool); ok {
			return t.Mode == ResultsDigest
		}
	}
	return r.Default == ResultsDigest
}

// retention reads the top-level retention section.
func (d *decoder) retention(n ast.Node) *Retention {
	r := &Retention{Every: DefaultRetentionEvery}
	fields, ok := d.mapping(n, "retention", "max_age", "max_bytes", "export_dir", "every")
	if !ok {
		return r
	}
	for _, f := range fields {
		switch {
		case f.val == nil:
		case d.limit(f, "retention", &r.MaxAge, &r.MaxBytes):
			r.limitsGiven = true
		case f.name == "export_dir":
			if s, ok := d.nonEmpty(f.val, "retention.export_dir"); ok {
				r.ExportDir = d.path(s)
			}
		case f.name == "every":
			if v, ok := d.duration(f.val, "retention.every"); ok {
				r.Every = v
			}
		}
	}
	if r.ExportDir == "" {
		d.errorf(n, "retention needs export_dir: pruned history is always exported first, e.g. export_dir: ./warden-data/export")
	}
	return r
}

// agentRetention reads an agent's retention override.
func (d *decoder) agentRetention(n ast.Node, what string) *AgentRetention {
	r := &AgentRetention{}
	fields, _ := d.mapping(n, what, "max_age", "max_bytes")
	for _, f := range fields {
		if f.val != nil {
			d.limit(f, what, &r.MaxAge, &r.MaxBytes)
		}
	}
	return r
}

// limit reads f into maxAge or maxBytes if it is one of them, and reports
// whether it was.
func (d *decoder) limit(f field, what string, maxAge *time.Duration, maxBytes *int64) bool {
	switch f.name {
	case "max_age":
		*maxAge, _ = d.duration(f.val, what+".max_age")
	case "max_bytes":
		*maxBytes = d.byteSize(f.val, what+".max_bytes")
	default:
		return false
	}
	return true
}

// checkRetention runs the checks that span the retention section and the
// agents: an agent's override needs the section (for export_dir), and
// the section must limit something.
func (d *decoder) checkRetention(top ast.Node, r *Retention, agents []*Agent) {
	limited := r != nil && r.limitsGiven
	for _, a := range agents {
		if a.Retention == nil {
			continue
		}
		if r == nil {
			d.errorf(a.retentionAt, "agent %q sets retention, but there is no top-level retention section to say where pruned history is exported (export_dir)", a.Name)
		}
		limited = true
	}
	if r != nil && !limited {
		d.errorf(top, "retention sets no limit: give max_age or max_bytes (here or in an agent's retention)")
	}
}

// byteSizeUnits are the suffixes max_bytes accepts.
var byteSizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
}

// byteSize reads a positive size: an integer of bytes, or a number with a
// unit (10GiB, 500MB, 1.5TiB).
func (d *decoder) byteSize(n ast.Node, what string) int64 {
	if _, isInt := n.(*ast.IntegerNode); isInt {
		v, ok := d.integer(n, what)
		if ok && v <= 0 {
			d.errorf(n, "%s must be positive, got %d", what, v)
		}
		return v
	}
	s, ok := d.str(n, what)
	if !ok {
		return 0
	}
	v, err := parseByteSize(s)
	if err != nil {
		d.errorf(n, "%s %q: %v", what, s, err)
		return 0
	}
	return v
}

// parseByteSize parses "10GiB", "500 MB", "1.5TiB" or "4096".
func parseByteSize(s string) (int64, error) {
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range byteSizeUnits {
		if strings.HasSuffix(num, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || num == "" || strings.ContainsAny(num, "eEnNxXpP_") {
		return 0, fmt.Errorf("is not a size (use bytes or a unit: KiB, MiB, GiB, TiB, KB, MB, GB, TB)")
	}
	v := f * float64(mult)
	if v < 1 || v >= 1<<62 {
		return 0, fmt.Errorf("must be between 1 byte and 4 EiB")
	}
	return int64(v), nil
}

// recordResults reads an agent's record_results: full, digest, or
// {default: full|digest, tools: {pattern: full|digest, ...},
// withheld: full|digest}.
func (d *decoder) recordResults(n ast.Node, what string) RecordResults {
	r := RecordResults{Default: ResultsFull, Withheld: ResultsDigest}
	if _, isMap := n.(*ast.MappingNode); !isMap {
		if _, isPair := n.(*ast.MappingValueNode); !isPair {
			r.Default = d.resultsMode(n, what)
			return r
		}
	}
	fields, ok := d.mapping(n, what, "default", "tools", "withheld")
	if !ok {
		return r
	}
	for _, f := range fields {
		if f.val == nil {
			continue
		}
		switch f.name {
		case "default":
			r.Default = d.resultsMode(f.val, what+".default")
		case "withheld":
			r.Withheld = d.resultsMode(f.val, what+".withheld")
		case "tools":
			tools, ok := d.mapping(f.val, what+".tools")
			if !ok {
				continue
			}
			for _, t := range tools {
				if _, err := path.Match(t.name, ""); err != nil || t.name == "" {
					d.errorf(t.key, "%s.tools key %q is not a valid glob pattern (path.Match syntax: * ? [a-z] \\)", what, t.name)
					continue
				}
				if t.val == nil {
					d.errorf(t.key, "%s.tools.%s has no value; want full or digest", what, t.name)
					continue
				}
				r.Tools = append(r.Tools, ToolResults{Pattern: t.name, Mode: d.resultsMode(t.val, what+".tools."+t.name)})
			}
		}
	}
	return r
}

// resultsMode reads full or digest.
func (d *decoder) resultsMode(n ast.Node, what string) string {
	s, ok := d.str(n, what)
	if !ok {
		return ResultsFull
	}
	if s != ResultsFull && s != ResultsDigest {
		d.errorf(n, "%s %q is not one of full, digest", what, s)
		return ResultsFull
	}
	return s
}
