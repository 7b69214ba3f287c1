//go:build unix

package bench

import (
	"syscall"
	"time"
)

// processCPU is the CPU time, user and system, the whole process has used
// so far; ok is false where it cannot be read. Every mode's clients and
// servers run in this process, so a mode's share is the difference over
// its run.
func processCPU() (cpu time.Duration, ok bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
