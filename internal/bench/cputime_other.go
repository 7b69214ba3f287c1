//go:build !unix

package bench

import "time"

// processCPU is not measured here: the results then carry no CPU figures.
func processCPU() (time.Duration, bool) { return 0, false }
