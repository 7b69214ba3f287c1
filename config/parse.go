package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Defaults applied when a field is absent.
const (
	DefaultListen         = "127.0.0.1:7800"
	DefaultAdminListen    = "127.0.0.1:7801"
	DefaultMaxBodyBytes   = 1 << 20
	DefaultSessionIdleTTL = 30 * time.Minute
	DefaultCallTimeout    = 60 * time.Second
	DefaultDataDir        = "warden-data"
)

// maxFileBytes bounds a config file; real ones are a few KiB, and the
// YAML parser's cost grows with hostile input.
const maxFileBytes = 1 << 20

// Load reads, parses, defaults and validates the config file at path,
// expanding ${VAR} from the process environment. Problems in the file are
// returned as Errors; a file that cannot be read gives a wrapped I/O error.
// The workflow and rules files it names must exist.
func Load(path string, opts ...Option) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg, _, err := parse(path, data, os.Getenv, readable, false, opts...)
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

// Option changes how a config is read.
type Option func(*decoder)

// TokensOptional lets a token_env whose variable is unset pass, for a
// process that authenticates nobody by token (warden stdio takes its
// agent from a flag): that agent's or the admin API's TokenSHA256 is then
// "", which nothing matches.
func TokensOptional() Option { return func(d *decoder) { d.optionalTokens = true } }

// Check is Load for checking a config rather than serving it (warden
// validate). An environment variable the file names but the environment
// does not hold is a warning unless strict, so a config can be checked
// where its secrets are not (in CI); a variable not named at all is still
// an error. The config is returned even with errors, as far as it could
// be read (nil when the file is not YAML), so that the files it names can
// be checked in the same run; it must not be served.
func Check(path string, strict bool) (cfg *Config, warnings Errors, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read config: %w", err)
	}
	return parse(path, data, os.Getenv, readable, !strict)
}

// Parse is Load without the file read, nor the check that the files it
// names exist: filename is used in messages and to resolve relative
// paths, and getenv supplies the environment (an empty value counts as
// unset; nil means an empty environment). On failure the error is an
// Errors listing every problem found.
func Parse(filename string, data []byte, getenv func(string) string, opts ...Option) (*Config, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	cfg, _, err := parse(filename, data, getenv, nil, false, opts...)
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

// parse reads a config's bytes. files, when set, checks that the files it
// names exist; unsetWarns makes unset variables warnings. cfg is what
// could be read, errors or not.
func parse(filename string, data []byte, getenv func(string) string, files func(string) error, unsetWarns bool, opts ...Option) (cfg *Config, warnings Errors, err error) {
	abs, err := filepath.Abs(filename)
	if err != nil {
		return nil, nil, fmt.Errorf("resolve config path %q: %w", filename, err)
	}
	d := &decoder{file: filename, dir: filepath.Dir(abs), getenv: getenv, anchors: map[string]ast.Node{},
		files: files, unsetWarns: unsetWarns}
	for _, o := range opts {
		o(d)
	}
	cfg = d.parse(data)
	if cfg != nil {
		cfg.File = abs
	}
	if len(d.errs) > 0 {
		return cfg, d.warns.sorted(), d.errs.sorted()
	}
	return cfg, d.warns.sorted(), nil
}

// readable checks that a file the config names can be opened, so that a
// missing one is reported at the line that names it.
func readable(path string) error {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s does not exist", path)
		}
		return err
	}
	return f.Close()
}

// parse turns bytes into a Config, recording problems in d.errs.
func (d *decoder) parse(data []byte) *Config {
	if len(data) > maxFileBytes {
		d.errs = append(d.errs, &Error{File: d.file, Line: 1, Col: 1, Msg: fmt.Sprintf("file is %d bytes; a config may be at most %d", len(data), maxFileBytes)})
		return nil
	}
	// Duplicate keys are allowed here and reported by the decoder instead,
	// because go-yaml's parser stops at the first one.
	f, err := parser.ParseBytes(data, 0, parser.AllowDuplicateMapKey())
	if err != nil {
		d.syntaxError(err, data)
		return nil
	}
	var body ast.Node
	for i, doc := range f.Docs {
		if doc == nil || doc.Body == nil {
			continue
		}
		if body != nil {
			d.errorf(doc.Body, "a config is one YAML document; found another (document %d)", i+1)
			return nil
		}
		body = doc.Body
	}
	if body == nil {
		d.errs = append(d.errs, &Error{File: d.file, Line: 1, Col: 1, Msg: "file is empty; a config needs at least upstreams and agents (see examples/warden.yaml)"})
		return nil
	}
	d.collectAnchors(body)
	return d.top(d.resolve(body))
}

// syntaxError records a YAML parse failure at the position go-yaml gives.
func (d *decoder) syntaxError(err error, data []byte) {
	e := &Error{File: d.file, Line: 1, Col: 1, Msg: "not valid YAML: " + err.Error()}
	var ye yaml.Error
	if errors.As(err, &ye) {
		e.Msg = "not valid YAML: " + ye.GetMessage()
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			e.Line, e.Col = max(tk.Position.Line, 1), max(tk.Position.Column, 1)
		}
	}
	// A bare * in a tool pattern is the commonest way to hit this: YAML
	// reads it as an alias, and go-yaml's message does not say so.
	// go-yaml points at the * or at the token after it.
	if charAt(data, e.Line, e.Col) == '*' || charAt(data, e.Line, e.Col-1) == '*' {
		e.Msg += ` (a bare * starts a YAML alias; quote glob patterns, e.g. "*")`
	}
	d.errs = append(d.errs, e)
}

// charAt returns the byte at a 1-based line and column, or 0.
func charAt(data []byte, line, col int) byte {
	for l := 1; l < line; l++ {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return 0
		}
		data = data[i+1:]
	}
	if col >= 1 && col-1 < len(data) {
		return data[col-1]
	}
	return 0
}
