// Command warden supervises AI agents' MCP tool calls: it is an MCP proxy
// that records every call of every session and escalates what is out of
// scope. See the README for the commands.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/alecthomas/kong"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

type cli struct {
	LogFormat string `help:"Log format: text or json (overrides the config)." enum:"text,json," default:""`
	LogLevel  string `help:"Log level: debug, info, warn or error (overrides the config)." enum:"debug,info,warn,error," default:""`

	Serve    serveCmd    `cmd:"" help:"Serve agents over MCP (Streamable HTTP at /mcp) in front of the configured upstreams."`
	Stdio    stdioCmd    `cmd:"" help:"Serve one agent over stdin/stdout, for clients that launch a command."`
	Validate validateCmd `cmd:"" help:"Check a configuration file and the workflow and rules files it names, reporting every problem at once; exit 0 only when all are valid."`
	Demo     demoCmd     `cmd:"" help:"Run a self-contained demonstration: a demo upstream, warden, and a scripted agent."`
	Sessions sessionsCmd `cmd:"" help:"List and inspect recorded sessions."`
	Flags    flagsCmd    `cmd:"" help:"List flagged calls and signals (the review queue) and record their review."`
	Verify   verifyCmd   `cmd:"" help:"Check every session's hash chain; non-zero exit when history was altered."`
	Replay   replayCmd   `cmd:"" help:"Run recorded sessions or traces through a policy with the live decision code."`
	Test     testCmd     `cmd:"" help:"Run a directory's policy test cases (traces whose calls say the verdict they must get); non-zero exit on any mismatch."`
	Learn    learnCmd    `cmd:"" help:"Propose a workflow for an agent from its recorded sessions or traces."`
	Baseline baselineCmd `cmd:"" help:"Show the behaviour baseline warden learned for an agent."`
	Export   exportCmd   `cmd:"" help:"Export sessions with their events (JSON Lines), or check an export file."`
	Compact  compactCmd  `cmd:"" help:"Give back the disk space pruned history took; warden must be stopped."`
	Migrate  migrateCmd  `cmd:"" help:"Copy a bbolt history into the configuration's PostgreSQL store, chains intact, and verify the copy."`
	Replicas replicasCmd `cmd:"" help:"Show the policy each warden replica on the PostgreSQL history runs, against the one last announced; non-zero exit when one differs."`
	Bench    benchCmd    `cmd:"" help:"Measure warden against a direct call and a plain forwarding hop, or (--store postgres) its PostgreSQL store against bbolt, alone and as three replicas."`
	Version  versionCmd  `cmd:"" help:"Print the version."`

	// Over warden's admin API.
	Approvals approvalsCmd `cmd:"" help:"List and decide held calls (step-ups) through warden's admin API."`
	Kill      killCmd      `cmd:"" help:"Kill a session, or every live session of an agent, through warden's admin API."`
	Agents    agentsCmd    `cmd:"" help:"List, suspend and restore agents through warden's admin API."`
	Tools     toolsCmd     `cmd:"" help:"List tools and accept changed definitions through warden's admin API."`

	// out is where commands print their results; nil is os.Stdout. Tests
	// set it rather than swapping the process's stdout.
	out io.Writer
}

// stdout is where a command prints its results.
func (g *cli) stdout() io.Writer {
	if g == nil || g.out == nil {
		return os.Stdout
	}
	return g.out
}

type versionCmd struct{}

func (versionCmd) Run() error {
	fmt.Println("warden", version)
	return nil
}

// kongOptions are how the command line is parsed and its help printed.
func kongOptions() []kong.Option {
	return []kong.Option{
		kong.Name("warden"),
		kong.Description("warden supervises AI agents' tool calls for the whole life of their sessions."),
		kong.UsageOnError(),
		kong.Help(helpPrinter),
	}
}

func main() {
	var c cli
	ctx := kong.Parse(&c, kongOptions()...)
	err := ctx.Run(&c)
	if err != nil {
		var ex exitError
		if asExit(err, &ex) {
			if ex.msg != "" {
				fmt.Fprintln(os.Stderr, ex.msg)
			}
			os.Exit(ex.code)
		}
		fmt.Fprintln(os.Stderr, "warden:", err)
		os.Exit(1)
	}
}
