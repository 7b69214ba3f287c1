//go:build unix

// Package cputime reads the CPU time the process has used, where the
// platform tells it: benchmarks report CPU per operation beside
// wall-clock, which a shared machine blurs more.
package cputime

import (
	"syscall"
	"time"
)

// Process is the CPU time, user and system, the whole process has used so
// far; ok is false where it cannot be read.
func Process() (cpu time.Duration, ok bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
