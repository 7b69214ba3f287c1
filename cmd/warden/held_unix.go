//go:build unix

package main

import (
	"errors"
	"os"
	"syscall"
)

// historyHeld reports whether some process holds the history file at
// path (bbolt's lock): a holder file whose serve no longer does is stale,
// and its endpoint may since be anyone's (another local user can listen
// on the port it names).
func historyHeld(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
	if err == nil {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		return false
	}
	return errors.Is(err, syscall.EWOULDBLOCK)
}
