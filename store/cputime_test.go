package store

import (
	"time"

	"github.com/warden-dev/warden/internal/cputime"
)

// cpuTime is the process's CPU time so far; 0 where it cannot be read.
func cpuTime() time.Duration {
	cpu, _ := cputime.Process()
	return cpu
}
