//go:build !unix && !windows

package testkit

import "os"

// lockFile does nothing where the OS has no file locks: concurrent test
// processes may then both run npm ci.
func lockFile(*os.File) error { return nil }
