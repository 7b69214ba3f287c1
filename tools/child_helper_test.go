package tools_test

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// The test binary plays a stdio upstream and that upstream's own child,
// chosen by this variable, so the child tests need nothing installed.
const (
	roleVar   = "WARDEN_TOOLS_TEST_ROLE"
	fifoVar   = "WARDEN_TOOLS_TEST_FIFO"
	roleUp    = "upstream"       // a stdio MCP server that starts a lingerer first
	roleWaits = "upstream-waits" // the same, then waits for the lingerer, as npx waits for node
	roleStay  = "lingerer"       // holds the FIFO open for writing until killed; says "term" on SIGTERM
)

// runAsChild plays the role the environment names, if any, and reports
// whether it did (the process then exits instead of running tests).
func runAsChild() bool {
	switch role := os.Getenv(roleVar); role {
	case roleUp, roleWaits:
		// Like npx starting node: a descendant the upstream does not
		// stop when its stdin closes.
		kid := exec.Command(os.Args[0])
		kid.Env = append(os.Environ(), roleVar+"="+roleStay)
		if err := kid.Start(); err != nil {
			fmt.Fprintln(os.Stderr, "start lingerer:", err)
			os.Exit(1)
		}
		s := server.NewMCPServer("child", "1", server.WithToolCapabilities(false))
		s.AddTool(mcp.NewTool("noop"), echo)
		_ = server.ServeStdio(s)
		if role == roleWaits {
			_ = kid.Wait()
		}
		return true
	case roleStay:
		terms := make(chan os.Signal, 1)
		signal.Notify(terms, syscall.SIGTERM)
		f, err := os.OpenFile(os.Getenv(fifoVar), os.O_WRONLY, 0)
		if err != nil {
			fmt.Fprintln(os.Stderr, "open fifo:", err)
			os.Exit(1)
		}
		defer f.Close()
		<-terms // or killed
		_, _ = f.WriteString("term\n")
		return true
	}
	return false
}
