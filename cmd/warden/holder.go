package main

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"

	bolterr "go.etcd.io/bbolt/errors"

	"github.com/warden-dev/warden/config"
)

// holder says which process holds a configuration's history file (bbolt
// lets one process open it). The process that opened it publishes it in
// the data directory, readable only by its user: a `warden stdio` started
// while `warden serve` runs reads there how to reach that serve and the
// local token that opens a session for its agent (whoever can read the
// data directory could open the history and run stdio as any agent, so
// the token grants nothing more), and a process that finds the file
// locked says which one holds it.
type holder struct {
	PID     int               `json:"pid"`
	Command string            `json:"command"`          // "serve" or "stdio"
	Agent   string            `json:"agent,omitempty"`  // the agent a stdio process serves
	MCP     string            `json:"mcp,omitempty"`    // serve's MCP endpoint
	Tokens  map[string]string `json:"tokens,omitempty"` // serve's local token per agent
}

// holderPath is where a configuration's holder is published.
func holderPath(cfg *config.Config) string { return filepath.Join(cfg.DataDir, "holder.json") }

// localTokens makes a fresh random token for each agent of cfg.
func localTokens(cfg *config.Config) map[string]string {
	out := make(map[string]string, len(cfg.Agents))
	for _, a := range cfg.Agents {
		out[a.Name] = rand.Text()
	}
	return out
}

// publish writes h for cfg, replacing a stale one (the lock says this
// process holds the history now). remove deletes it again, unless another
// process has replaced it since.
func (h holder) publish(cfg *config.Config) (remove func(), err error) {
	data, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("holder file: %w", err)
	}
	path := holderPath(cfg)
	// Local tokens go only where no other user can read or replace them,
	// through a file of a fresh name (not one another user can pre-create).
	if len(h.Tokens) > 0 {
		if err := private(cfg.DataDir, true); err != nil {
			return nil, fmt.Errorf("holder file: %w", err)
		}
	}
	f, err := os.CreateTemp(cfg.DataDir, "holder.json.*")
	if err != nil {
		return nil, fmt.Errorf("holder file: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return nil, fmt.Errorf("holder file: %w", err)
	}
	return func() {
		if now, ok := readHolder(cfg); ok && now.PID == h.PID {
			_ = os.Remove(path)
		}
	}, nil
}

// trustedHolder checks that the holder published for cfg can be believed
// by a stdio bridge: a file and folder only this user can write, naming
// an http endpoint on loopback (the agent's traffic and its local token
// go there).
func trustedHolder(cfg *config.Config, h holder) error {
	if err := private(cfg.DataDir, true); err != nil {
		return err
	}
	if err := private(holderPath(cfg), false); err != nil {
		return err
	}
	u, err := url.Parse(h.MCP)
	if err != nil {
		return fmt.Errorf("its MCP endpoint: %w", err)
	}
	if ip, err := netip.ParseAddr(u.Hostname()); u.Scheme != "http" || err != nil || !ip.Unmap().IsLoopback() {
		return fmt.Errorf("its MCP endpoint %q is not http on a loopback address", h.MCP)
	}
	return nil
}

// readHolder reads the holder published for cfg; false when there is none
// (or it cannot be read). It may be stale: a process killed with -9 does
// not remove it.
func readHolder(cfg *config.Config) (holder, bool) {
	data, err := os.ReadFile(holderPath(cfg))
	if err != nil {
		return holder{}, false
	}
	var h holder
	if json.Unmarshal(data, &h) != nil || h.PID == 0 {
		return holder{}, false
	}
	return h, true
}

// locked says whether err is the history file being locked by another
// process.
func locked(err error) bool { return errors.Is(err, bolterr.ErrTimeout) }

// heldError explains a history file locked by another process: which one
// holds it, and what to do.
func heldError(cfg *config.Config, err error) error {
	h, ok := readHolder(cfg)
	var who, todo string
	switch {
	case !ok:
		who = "another process (it did not say which: `warden compact`, or an older warden)"
		todo = "stop it, then start this command again"
	case h.Command == "stdio":
		who = fmt.Sprintf("`warden stdio --agent %s` (pid %d), the session of an MCP client that launched it", h.Agent, h.PID)
		todo = fmt.Sprintf("end that session (close it in the client, or `kill %d`), then start this command again; "+
			"a warden stdio started while warden serve runs acts through serve and holds nothing", h.PID)
	default:
		who = fmt.Sprintf("`warden %s` (pid %d)", h.Command, h.PID)
		if h.MCP != "" {
			who += " serving " + h.MCP
		}
		todo = "stop it first (only one process can open the history), or use it: its admin API and `warden stdio` work with it"
	}
	return fmt.Errorf("the history %s is held by %s: %s: %w", dbPath(cfg), who, todo, err)
}
