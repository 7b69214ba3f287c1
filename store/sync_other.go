//go:build !linux && !darwin

package store

import "os"

// fdatasync makes the file's data durable with the strongest sync the
// standard library offers here: FlushFileBuffers on Windows, which also
// flushes the drive's cache, and fsync elsewhere.
func fdatasync(f *os.File) error { return f.Sync() }
