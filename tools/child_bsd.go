//go:build unix && !linux

package tools

import (
	"os/exec"
	"syscall"
)

// prepareChild puts the child in its own process group, which stop kills
// when warden closes the upstream or shuts down. macOS and the BSDs have no
// kernel equivalent of Linux's Pdeathsig: if warden itself is killed with
// SIGKILL, the child and its descendants are left running (they usually
// exit on their own when they read end-of-file on stdin).
func prepareChild(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}
