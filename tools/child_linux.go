package tools

import (
	"os/exec"
	"syscall"
)

// prepareChild makes the kernel kill the child when warden dies, even by
// kill -9 (Pdeathsig), and puts it in its own process group so that stop
// can end its descendants too.
func prepareChild(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}
