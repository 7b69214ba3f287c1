//go:build unix

package throwaway

import (
	"os/exec"
	"syscall"
)

// ownGroup puts cmd in a process group of its own, out of reach of the
// terminal's Ctrl-C: whoever started it stops it.
func ownGroup(cmd *exec.Cmd) *exec.Cmd {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}
