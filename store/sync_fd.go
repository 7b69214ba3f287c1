//go:build linux || darwin

package store

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// syncFd runs sync on f's descriptor, again when a signal interrupts it,
// while f cannot be closed under it.
func syncFd(f *os.File, sync func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var syncErr error
	err = rc.Control(func(fd uintptr) {
		for {
			syncErr = sync(int(fd))
			if !errors.Is(syncErr, unix.EINTR) {
				return
			}
		}
	})
	if err != nil {
		// Control fails only on a closed file; say so as f.Sync would.
		return &os.PathError{Op: "sync", Path: f.Name(), Err: os.ErrClosed}
	}
	return syncErr
}
