package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/log"

	"github.com/warden-dev/warden/config"
)

// bridge serves a stdio client by forwarding its session, message by
// message, to a running `warden serve`'s MCP endpoint, as the agent that
// the local token names. serve supervises, records and can kill the
// session like any other; the bridge records nothing and holds no file.
type bridge struct {
	url, token string
	http       *http.Client
	log        *log.Logger

	outMu sync.Mutex
	out   io.Writer // the client's stdin: one JSON-RPC message a line

	mu      sync.Mutex
	session string // Mcp-Session-Id, once initialized
	version string // the negotiated protocol version
	listen  sync.Once
	end     context.CancelCauseFunc // ends the bridge, with why
}

// errSessionEnded is why a bridge ends when serve no longer knows its
// session: killed, its agent suspended, or idle past its TTL.
var errSessionEnded = errors.New("warden serve ended this session (killed, its agent suspended, or idle too long)")

// bridgeTo finds a running `warden serve` on cfg that a stdio process for
// agent can act through: the one its holder file names, answering at its
// MCP endpoint. false means there is none (or it is gone), and stdio opens
// the history itself.
func bridgeTo(ctx context.Context, cfg *config.Config, agent string, out io.Writer, logger *log.Logger) (*bridge, bool) {
	h, ok := readHolder(cfg)
	if !ok || h.Command != "serve" || h.MCP == "" || h.Tokens[agent] == "" {
		return nil, false
	}
	if err := trustedHolder(cfg, h); err != nil {
		logger.Warn("not acting through the warden serve named in the data directory: its holder file cannot be trusted", "err", err)
		return nil, false
	}
	if !historyHeld(dbPath(cfg)) {
		logger.Debug("the warden serve named in the data directory no longer holds the history; opening it here", "pid", h.PID)
		return nil, false
	}
	b := &bridge{url: h.MCP, token: h.Tokens[agent], out: out, log: logger,
		http: &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}}
	// Any answer but 401 says that serve runs there and takes the token;
	// a refused connection, that the holder file is stale. A serve still
	// connecting its upstreams answers once it has (startTimeout).
	pctx, cancel := context.WithTimeout(ctx, startTimeout+5*time.Second)
	defer cancel()
	req, err := b.request(pctx, http.MethodGet, nil)
	if err != nil {
		return nil, false
	}
	resp, err := b.http.Do(req)
	if err != nil {
		logger.Debug("the warden serve named in the data directory does not answer; opening the history here", "pid", h.PID, "err", err)
		return nil, false
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized {
		return nil, false
	}
	logger.Info("acting through the running warden serve: it supervises and records this session", "pid", h.PID, "mcp", h.MCP, "agent", agent)
	return b, true
}

// run relays in (the client's stdout) until it ends, ctx ends, or serve
// ends the session; it then ends the session on serve's side.
func (b *bridge) run(parent context.Context, in io.Reader) error {
	ctx, end := context.WithCancelCause(parent)
	b.end = end
	var posts sync.WaitGroup
	// Requests under way end with the bridge (the session is over).
	defer func() { b.end(nil); posts.Wait() }()
	lines := make(chan []byte)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 64<<10), 64<<20)
		for sc.Scan() {
			select {
			case lines <- bytes.Clone(sc.Bytes()):
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			b.close()
			if parent.Err() != nil {
				return nil // a signal: a normal end
			}
			return context.Cause(ctx)
		case msg, ok := <-lines:
			if !ok {
				b.close()
				// serve may have ended the bridge just as the client
				// hung up: that end, not the hang-up, is the outcome.
				if err := context.Cause(ctx); err != nil && parent.Err() == nil {
					return err
				}
				return nil
			}
			switch {
			case len(bytes.TrimSpace(msg)) == 0:
			case !b.started():
				// Until the session exists, messages go one at a time, in
				// order: the initialize first opens it.
				b.post(ctx, msg)
			default:
				// Each in its own request, so that a held call stalls no other.
				posts.Go(func() { b.post(ctx, msg) })
			}
		}
	}
}

// post sends one message of the client's and relays what comes back.
func (b *bridge) post(ctx context.Context, msg []byte) {
	var head struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
	}
	_ = json.Unmarshal(msg, &head) // serve judges malformed messages
	req, err := b.request(ctx, http.MethodPost, msg)
	if err != nil {
		b.fail(head.ID, err.Error())
		return
	}
	resp, err := b.http.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			b.fail(head.ID, "warden serve does not answer: "+err.Error())
			b.end(fmt.Errorf("warden serve at %s does not answer: %w", b.url, err))
		}
		return
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound && head.Method != "initialize" && b.started():
		b.end(errSessionEnded)
		return
	case resp.StatusCode >= 400:
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		msg := fmt.Sprintf("warden serve answered %s: %s", resp.Status, strings.TrimSpace(string(body)))
		b.fail(head.ID, msg)
		if head.Method == "initialize" || resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			b.end(errors.New(msg)) // no session, or none for this agent any more
		}
		return
	}
	if head.Method == "initialize" {
		b.initialized(resp.Header.Get("Mcp-Session-Id"))
	}
	b.relay(ctx, resp)
	if head.Method == "initialize" {
		b.listen.Do(func() { go b.listenForever(ctx) })
	}
}

// started says whether serve has given the session its id.
func (b *bridge) started() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.session != ""
}

// initialized keeps the session id; the protocol version is taken from
// the initialize result as it is relayed.
func (b *bridge) initialized(session string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.session = session
}

// relay writes the messages of an answer (JSON, or an event stream) to
// the client.
func (b *bridge) relay(ctx context.Context, resp *http.Response) {
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		body, err := io.ReadAll(resp.Body)
		if err == nil && len(bytes.TrimSpace(body)) > 0 {
			b.write(body)
		}
		return
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	var data bytes.Buffer
	for sc.Scan() && ctx.Err() == nil {
		line := sc.Bytes()
		switch {
		case len(line) == 0:
			if data.Len() > 0 {
				b.write(data.Bytes())
				data.Reset()
			}
		case bytes.HasPrefix(line, []byte("data:")):
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.Write(bytes.TrimPrefix(bytes.TrimPrefix(line, []byte("data:")), []byte(" ")))
		}
	}
	if data.Len() > 0 {
		b.write(data.Bytes())
	}
}

// listenForever keeps the session's GET stream open, which carries what
// serve sends outside any call (list_changed, requests to the client),
// until the session ends.
func (b *bridge) listenForever(ctx context.Context) {
	for ctx.Err() == nil {
		req, err := b.request(ctx, http.MethodGet, nil)
		if err != nil {
			return
		}
		resp, err := b.http.Do(req)
		switch {
		case err != nil:
			if ctx.Err() == nil {
				b.end(fmt.Errorf("warden serve at %s does not answer: %w", b.url, err))
			}
			return
		case resp.StatusCode == http.StatusNotFound:
			resp.Body.Close()
			b.end(errSessionEnded)
			return
		case resp.StatusCode == http.StatusMethodNotAllowed:
			resp.Body.Close()
			return
		case resp.StatusCode != http.StatusOK:
			resp.Body.Close()
			select { // retry a refused stream, unhurried
			case <-time.After(time.Second):
			case <-ctx.Done():
			}
			continue
		}
		b.relay(ctx, resp)
		resp.Body.Close()
	}
}

// close ends the session on serve's side, as a client's DELETE does.
func (b *bridge) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := b.request(ctx, http.MethodDelete, nil)
	if err != nil || req.Header.Get("Mcp-Session-Id") == "" {
		return
	}
	if resp, err := b.http.Do(req); err == nil {
		resp.Body.Close()
	}
}

// request builds a request to serve's MCP endpoint with the local token
// and, once known, the session and its protocol version.
func (b *bridge) request(ctx context.Context, method string, body []byte) (*http.Request, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, b.url, r)
	if err != nil {
		return nil, fmt.Errorf("bridge: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+b.token)
	req.Header.Set("Accept", "application/json, text/event-stream")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.session != "" {
		req.Header.Set("Mcp-Session-Id", b.session)
	}
	if b.version != "" {
		req.Header.Set("Mcp-Protocol-Version", b.version)
	}
	return req, nil
}

// write sends one message to the client, on a line of its own; the
// protocol version is noted when it is an initialize result.
func (b *bridge) write(msg []byte) {
	var line bytes.Buffer
	if json.Compact(&line, msg) != nil {
		b.log.Warn("warden serve sent a message that is not JSON; dropped", "bytes", len(msg))
		return
	}
	var init struct {
		Result struct {
			ProtocolVersion string `json:"protocolVersion"`
		} `json:"result"`
	}
	if json.Unmarshal(line.Bytes(), &init) == nil && init.Result.ProtocolVersion != "" {
		b.mu.Lock()
		b.version = init.Result.ProtocolVersion
		b.mu.Unlock()
	}
	line.WriteByte('\n')
	b.outMu.Lock()
	defer b.outMu.Unlock()
	_, _ = b.out.Write(line.Bytes())
}

// fail answers a request of the client's (id) with a JSON-RPC error; a
// notification (no id) gets nothing.
func (b *bridge) fail(id json.RawMessage, msg string) {
	if len(id) == 0 || string(id) == "null" {
		b.log.Warn("a notification did not reach warden serve", "err", msg)
		return
	}
	out, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "error": map[string]any{"code": -32603, "message": msg}})
	b.write(out)
}
