//go:build !windows

package e2e

import (
	"errors"
	"syscall"
)

// processGone says whether pid has ended: signal 0 fails for it.
func processGone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
