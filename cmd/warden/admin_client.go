package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"strings"
	"syscall"
	"time"
)

// adminFlags say which admin API a command talks to, and as whom.
type adminFlags struct {
	Config        string `short:"c" help:"Configuration file: warden's admin API is at its admin.listen." xor:"api" required:""`
	Admin         string `help:"Base URL of warden's admin API, e.g. http://127.0.0.1:7801." xor:"api" required:""`
	AdminTokenEnv string `help:"Environment variable holding the admin token." default:"WARDEN_ADMIN_TOKEN"`
	JSON          bool   `help:"Print the API's JSON answer."`
}

// adminCommand is a command served by the admin API. run writes to out and
// reads the environment through getenv, so tests can supply both.
type adminCommand interface {
	run(ctx context.Context, out io.Writer, getenv func(string) string) error
}

// runAdmin runs an admin command on the process's stdout and environment.
func runAdmin(c adminCommand) error {
	return c.run(context.Background(), os.Stdout, os.Getenv)
}

// adminTimeout bounds one admin API request; a decision is quick, and a
// hung warden should not hang the operator's shell.
const adminTimeout = 30 * time.Second

// maxAdminAnswer bounds what is read of an answer.
const maxAdminAnswer = 64 << 20

// adminClient calls warden's admin API with the admin bearer token.
type adminClient struct {
	base     string // scheme://host[:port][/prefix], no trailing slash
	token    string
	tokenEnv string // where the token came from, for hints
	hc       *http.Client
}

// client resolves the API's address and token.
func (f adminFlags) client(getenv func(string) string) (*adminClient, error) {
	base, err := f.baseURL()
	if err != nil {
		return nil, err
	}
	token := getenv(f.AdminTokenEnv)
	if token == "" {
		return nil, fmt.Errorf("the admin token is not set: put it in $%s (or name another variable with --admin-token-env)", f.AdminTokenEnv)
	}
	return &adminClient{base: base, token: token, tokenEnv: f.AdminTokenEnv, hc: &http.Client{
		Timeout: adminTimeout,
		// A redirect would send the token on to wherever it points.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}, nil
}

// baseURL is --admin, or http:// and the config's admin.listen.
func (f adminFlags) baseURL() (string, error) {
	if f.Admin != "" {
		u, err := url.Parse(f.Admin)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return "", fmt.Errorf("--admin %q is not a base URL like http://127.0.0.1:7801", f.Admin)
		}
		return strings.TrimRight(f.Admin, "/"), nil
	}
	cfg, err := loadConfig(f.Config)
	if err != nil {
		return "", err
	}
	if cfg.Admin == nil {
		return "", fmt.Errorf("%s has no admin section, so warden serves no admin API; add one (see examples/warden.yaml) or pass --admin URL", f.Config)
	}
	host, port, err := net.SplitHostPort(cfg.Admin.Listen)
	if err != nil {
		return "", fmt.Errorf("admin.listen %q: %w", cfg.Admin.Listen, err)
	}
	// A listener on every interface is reached on loopback from here.
	switch ip := net.ParseIP(host); {
	case host == "" || (ip != nil && ip.IsUnspecified() && ip.To4() != nil):
		host = "127.0.0.1"
	case ip != nil && ip.IsUnspecified():
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port), nil
}

// adminError is an answer other than 2xx from the admin API.
type adminError struct {
	Method, Path string
	Code         int    // HTTP status code
	Status       string // e.g. "409 Conflict"
	Msg          string // the API's {"error": ...}, or the start of the body
}

func (e *adminError) Error() string {
	s := fmt.Sprintf("admin API %s %s: %s", e.Method, e.Path, e.Status)
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	return s
}

// statusOf returns the HTTP status of an admin API refusal, or 0.
func statusOf(err error) int {
	var ae *adminError
	if errors.As(err, &ae) {
		return ae.Code
	}
	return 0
}

// do sends one request (body as JSON when not nil) and returns the answer's
// body, which is JSON. Anything but 2xx is an *adminError.
func (c *adminClient) do(ctx context.Context, method, path string, q url.Values, body any) (json.RawMessage, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("admin API request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("admin API at %s: %w (is warden serve running with an admin section?)", c.base, err)
		}
		return nil, fmt.Errorf("admin API at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAdminAnswer))
	if err != nil {
		return nil, fmt.Errorf("admin API %s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &adminError{Method: method, Path: path, Code: resp.StatusCode, Status: resp.Status}
		var m struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(raw, &m) == nil && m.Error != "" {
			e.Msg = m.Error
		} else {
			e.Msg = clip(strings.TrimSpace(string(raw)), 200)
		}
		if resp.StatusCode == http.StatusUnauthorized {
			return nil, fmt.Errorf("%w\n$%s does not hold warden's admin token", e, c.tokenEnv)
		}
		return nil, e
	}
	return raw, nil
}

// call is do that decodes the answer into out.
func (c *adminClient) call(ctx context.Context, method, path string, q url.Values, body, out any) (json.RawMessage, error) {
	raw, err := c.do(ctx, method, path, q, body)
	if err != nil {
		return nil, err
	}
	if out != nil && len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return nil, fmt.Errorf("admin API %s %s: unexpected answer: %w", method, path, err)
		}
	}
	return raw, nil
}

// printRaw writes an API answer as indented JSON ("fallback" if empty).
// post sends an action to the admin API and words its failure: a 404 is
// "no <kind> <name>", anything else "<doing>: <the API's answer>".
func (c *adminClient) post(ctx context.Context, path string, body any, kind, name, doing string) (json.RawMessage, error) {
	raw, err := c.call(ctx, http.MethodPost, path, nil, body, nil)
	if statusOf(err) == http.StatusNotFound {
		return nil, fmt.Errorf("no %s %q: %w", kind, name, err)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", doing, err)
	}
	return raw, nil
}

func printRaw(w io.Writer, raw json.RawMessage, fallback string) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		raw = []byte(fallback)
	}
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return fmt.Errorf("admin API answer is not JSON: %w", err)
	}
	b.WriteByte('\n')
	_, err := w.Write(b.Bytes())
	return err
}

// whoAmI is the default --by: $USER@hostname.
// byOrMe is who a command acts as: the --by given, else whoAmI.
func byOrMe(by string, getenv func(string) string) string {
	if by != "" {
		return by
	}
	return whoAmI(getenv)
}

func whoAmI(getenv func(string) string) string {
	name := getenv("USER")
	if name == "" {
		if u, err := user.Current(); err == nil {
			name = u.Username
		}
	}
	if name == "" {
		name = "unknown"
	}
	if host, err := os.Hostname(); err == nil && host != "" {
		return name + "@" + host
	}
	return name
}
