package store

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// fdatasync makes the file's data durable. On macOS fsync only hands the
// data to the drive, whose cache may lose it on power loss; F_FULLFSYNC
// also flushes the drive's cache.
func fdatasync(f *os.File) error { return syncFd(f, fullFsync) }

// fullFsync is F_FULLFSYNC, or, on a filesystem that refuses it (some
// network and FUSE mounts), the plain fsync that filesystem does offer.
func fullFsync(fd int) error {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_FULLFSYNC, 0)
	if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.EINVAL) {
		return unix.Fsync(fd)
	}
	return err
}
