//go:build !unix

// Package cputime reads the CPU time the process has used, where the
// platform tells it: benchmarks report CPU per operation beside
// wall-clock, which a shared machine blurs more.
package cputime

import "time"

// Process is not measured here: ok is false.
func Process() (cpu time.Duration, ok bool) { return 0, false }
