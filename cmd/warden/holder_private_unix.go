//go:build unix

package main

import (
	"fmt"
	"os"
	"syscall"
)

// private checks that only this user can write path (a holder file, or
// the folder that holds one): owned by this user, writable by nobody else.
// Another user who could write there could otherwise point a stdio bridge
// at an endpoint of theirs, or read the local tokens.
func private(path string, dir bool) error {
	stat := os.Lstat // a file is read only if it is not a link
	if dir {
		stat = os.Stat
	}
	fi, err := stat(path)
	if err != nil {
		return err
	}
	switch st, ok := fi.Sys().(*syscall.Stat_t); {
	case !dir && !fi.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file (%v)", path, fi.Mode().Type())
	case !ok:
		return fmt.Errorf("%s: cannot tell its owner", path)
	case int(st.Uid) != os.Getuid():
		return fmt.Errorf("%s is owned by uid %d, not by this user (uid %d)", path, st.Uid, os.Getuid())
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("%s is writable by other users (mode %v)", path, fi.Mode().Perm())
	}
	return nil
}
