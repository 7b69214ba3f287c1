package config

import (
	"net"
	"net/url"
	"time"

	"github.com/goccy/go-yaml/ast"
)

// Defaults of a live export sink.
const (
	DefaultExportBatch    = 500
	DefaultExportInterval = 2 * time.Second
	maxExportBatch        = 100_000
)

// Export configures live export of the history while warden serves.
type Export struct {
	// OCSF streams the history as OCSF events (docs/siem.md).
	OCSF *ExportSink
}

// ExportSink is where and how a live export sends its batches: to File
// (appended, fsync'd) or to URL (HTTP POST), never both.
type ExportSink struct {
	File string // absolute
	URL  string
	// Headers are sent with each POST; their values are read from the
	// environment variables headers_env names.
	Headers []ExportHeader
	// Batch is the most history events per batch.
	Batch int
	// Interval is how often the sink looks for new events when it has
	// caught up.
	Interval time.Duration
}

// ExportHeader is one HTTP header of a sink and its value.
type ExportHeader struct {
	Name  string
	Env   string
	Value Secret
}

// export reads the top-level export section.
func (d *decoder) export(n ast.Node) *Export {
	e := &Export{}
	fields, _ := d.mapping(n, "export", "ocsf")
	for _, f := range fields {
		if f.val != nil {
			e.OCSF = d.exportSink(f.val, "export."+f.name)
		}
	}
	return e
}

// exportSink reads {file: PATH} or {url: URL, headers_env: {...}}, with
// batch and interval.
func (d *decoder) exportSink(n ast.Node, what string) *ExportSink {
	s := &ExportSink{Batch: DefaultExportBatch, Interval: DefaultExportInterval}
	fields, ok := d.mapping(n, what, "file", "url", "headers_env", "batch", "interval")
	if !ok {
		return s
	}
	var headersAt ast.Node
	urlGiven := false // a bad url is reported as such, not as missing
	for _, f := range fields {
		if f.val == nil {
			continue
		}
		switch f.name {
		case "file":
			if p, ok := d.nonEmpty(f.val, what+".file"); ok {
				s.File = d.path(p)
			}
		case "url":
			s.URL, urlGiven = d.exportURL(f.val, what+".url"), true
		case "headers_env":
			headersAt = f.key
			s.Headers = d.headersEnv(f.val, what+".headers_env")
		case "batch":
			if v, ok := d.integer(f.val, what+".batch"); ok {
				if v < 1 || v > maxExportBatch {
					d.errorf(f.val, "%s.batch must be between 1 and %d, got %d", what, maxExportBatch, v)
				}
				s.Batch = int(v)
			}
		case "interval":
			if v, ok := d.duration(f.val, what+".interval"); ok {
				s.Interval = v
			}
		}
	}
	switch {
	case s.File == "" && !urlGiven:
		d.errorf(n, "%s needs file (a path to append to) or url (an HTTP endpoint to POST to)", what)
	case s.File != "" && s.URL != "":
		d.errorf(n, "%s has both file and url; give one (run a second warden export to have both)", what)
	case headersAt != nil && s.File != "":
		d.errorf(headersAt, "%s.headers_env is for url; a file sink sends no headers", what)
	}
	return s
}

// exportURL reads a sink's endpoint: https, or http to a loopback
// address only, since the batches hold the history and the headers often
// a credential.
func (d *decoder) exportURL(n ast.Node, what string) string {
	s, ok := d.nonEmpty(n, what)
	if !ok {
		return ""
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https"):
		d.errorf(n, "%s %q is not an http(s) URL", what, redactURL(s))
		return ""
	case u.User != nil:
		d.errorf(n, "%s %q holds credentials; send them in a header with headers_env", what, redactURL(s))
		return ""
	case u.Scheme == "http":
		ip := net.ParseIP(u.Hostname())
		if u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
			d.errorf(n, "%s %q sends history in clear text; use https (http is accepted for loopback addresses only)", what, redactURL(s))
			return ""
		}
	}
	return s
}

// headersEnv reads {Header-Name: ENV_VAR, ...}: HTTP headers whose values
// (often a credential) are read from the environment, never the file.
func (d *decoder) headersEnv(n ast.Node, what string) []ExportHeader {
	var out []ExportHeader
	names, envs, nodes, _ := d.strMap(n, what)
	for i, name := range names {
		if !validEnvName(envs[i]) {
			d.errorf(nodes[i], "%s.%s %q is not an environment variable name", what, name, envs[i])
			continue
		}
		v := d.getenv(envs[i])
		if v == "" {
			d.errorf(nodes[i], "%s.%s: environment variable %s is not set or empty", what, name, envs[i])
			continue
		}
		out = append(out, ExportHeader{Name: name, Env: envs[i], Value: Secret(v)})
	}
	return out
}
