package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/charmbracelet/log"

	"github.com/warden-dev/warden/config"
)

type stdioCmd struct {
	Config string `short:"c" required:"" help:"Configuration file (YAML)." type:"existingfile"`
	Agent  string `required:"" help:"The agent this client acts as (its identity comes from this flag, not a token)."`
}

func (c *stdioCmd) Run(g *cli) error {
	// stdio authenticates nobody by token: the agent comes from --agent,
	// and a client that launches commands passes only the environment its
	// own config gives, so the agents' and the admin's token_env may be unset.
	cfg, err := loadConfig(c.Config, config.TokensOptional())
	if err != nil {
		return stdioEnvHint(err)
	}
	// stdout carries the protocol: logs go to stderr only.
	logger := newLogger(os.Stderr, g, cfg.Log.Level, cfg.Log.Format)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// A client that ends the session closes our stderr too (mcp-go's does,
	// before it waits for us): an unhandled SIGPIPE on the next log line
	// would kill warden before it ends its session and its upstreams'
	// processes. Caught (not ignored, which children would inherit), the
	// write just fails.
	pipes := make(chan os.Signal, 1)
	signal.Notify(pipes, syscall.SIGPIPE)
	defer signal.Stop(pipes)
	if err := stdioOnly(cfg, c.Agent); err != nil {
		return err
	}
	// A warden serve on this config holds the history: act through it.
	if b, ok := bridgeTo(ctx, cfg, c.Agent, os.Stdout, logger); ok {
		return b.run(ctx, os.Stdin)
	}
	oneSession(cfg)
	a, err := assemble(cfg, logger)
	if locked(err) {
		// serve may have taken the file while this process looked.
		if b, ok := bridgeTo(ctx, cfg, c.Agent, os.Stdout, logger); ok {
			return b.run(ctx, os.Stdin)
		}
	}
	if err != nil {
		return stdioEnvHint(err)
	}
	defer a.close(context.Background())
	unpublish, err := (holder{PID: os.Getpid(), Command: "stdio", Agent: c.Agent}).publish(cfg)
	if err != nil {
		return err
	}
	defer unpublish()
	startCtx, cancel := context.WithTimeout(ctx, startTimeout)
	err = a.start(startCtx)
	cancel()
	if err != nil {
		return err
	}
	policyWarnings(a, logger)
	adminBesideOrNot(cfg, logger)
	stopAdmin, err := serveAdminBeside(a, logger)
	if err != nil {
		return err
	}
	defer stopAdmin()
	return a.sup.ServeStdio(ctx, c.Agent, os.Stdin, os.Stdout)
}

// stdioOnly trims cfg to what a stdio process serving agent uses: the
// other agents' judges (and their keys) are dropped, and an agent without
// a token gets one nobody holds.
func stdioOnly(cfg *config.Config, agent string) error {
	var names []string
	for _, a := range cfg.Agents {
		names = append(names, a.Name)
		if a.Name != agent {
			a.Judge = nil
		}
		if a.TokenSHA256 == "" {
			a.TokenSHA256 = unguessableHash()
		}
	}
	if !slices.Contains(names, agent) {
		return exitError{code: 2, msg: fmt.Sprintf("warden stdio: no agent named %q in %s (agents: %s)", agent, cfg.File, strings.Join(names, ", "))}
	}
	return nil
}

// adminBesideOrNot drops an admin API whose token is unset, saying so: a
// stdio process that opens the history serves the admin API beside its
// session when it can.
func adminBesideOrNot(cfg *config.Config, logger *log.Logger) {
	if cfg.Admin != nil && cfg.Admin.TokenSHA256 == "" {
		logger.Warn("admin API not served: its token_env is not set in this process's environment (a client that launches warden passes only the env its config gives); warden kill and warden agents cannot reach this session",
			"variable", cfg.Admin.TokenEnv)
		cfg.Admin = nil
	}
}

// unguessableHash is the hash of a random token that is never kept: an
// agent given it can be authenticated by nobody.
func unguessableHash() string {
	sum := sha256.Sum256([]byte(rand.Text()))
	return hex.EncodeToString(sum[:])
}

// stdioEnvHint adds to an error about a missing environment variable why
// it may be missing under stdio.
func stdioEnvHint(err error) error {
	if !strings.Contains(err.Error(), "environment variable") {
		return err
	}
	const hint = "\n(warden stdio gets only the environment its client gives it: set the variable in the \"env\" of warden's entry in the client's MCP config)"
	var ex exitError
	if asExit(err, &ex) {
		ex.msg += hint
		return ex
	}
	return fmt.Errorf("%w%s", err, hint)
}

// oneSession sets every upstream shared: a stdio warden serves one agent
// session, so warden's own session with each upstream is that agent
// session's alone, and a process (or an HTTP session) per agent session
// beside it would only cost.
func oneSession(cfg *config.Config) {
	for _, u := range cfg.Upstreams {
		u.Sessions, u.MaxSessions, u.SessionIdleTimeout, u.SpareSessions = config.SessionsShared, 0, 0, 0
	}
}
