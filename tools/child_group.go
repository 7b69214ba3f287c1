//go:build unix

package tools

import (
	"github.com/charmbracelet/log"
	"golang.org/x/sys/unix"
)

// childOS holds nothing on unix: the child leads its own process group
// (prepareChild), and that is all stop needs.
type childOS struct{}

func (c *child) started(*log.Logger) error { return nil }

// terminate asks every process in the child's group to end.
func (c *child) terminate() {
	if c == nil || c.cmd == nil || c.cmd.Process == nil {
		return
	}
	_ = unix.Kill(-c.cmd.Process.Pid, unix.SIGTERM)
}

// stop kills every process left in the group the child leads. It runs after
// the transport has closed (and reaped) the child itself, so what it
// reaches are descendants that outlived it, such as the node process that
// npx started. A group with no process left answers ESRCH, which is fine.
func (c *child) stop() {
	if c == nil || c.cmd == nil || c.cmd.Process == nil {
		return
	}
	_ = unix.Kill(-c.cmd.Process.Pid, unix.SIGKILL)
}
