package testkit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// lockedPackage is what a lockfile pins of one package.
type lockedPackage struct {
	Version   string `json:"version"`
	Resolved  string `json:"resolved"`
	Integrity string `json:"integrity"`
	Optional  bool   `json:"optional"`
}

// lockfile is the part of package-lock.json (v2 or v3) that says what is
// installed where.
type lockfile struct {
	Packages map[string]lockedPackage `json:"packages"`
}

// NPMInstall makes dir/node_modules hold exactly what dir/package-lock.json
// pins, running `npm ci` when it does not. A file lock keeps test
// processes of several packages from installing at once; whoever waited
// checks again before installing.
func NPMInstall(ctx context.Context, dir string) error {
	if ok, _ := npmInstalled(dir); ok {
		return nil
	}
	// The lock is named after where the packages really go: worktrees
	// may share one node_modules through a symlink.
	target, err := filepath.Abs(filepath.Join(dir, "node_modules"))
	if err != nil {
		return fmt.Errorf("resolve %s: %w", dir, err)
	}
	if real, err := filepath.EvalSymlinks(target); err == nil {
		target = real
	}
	lockPath := filepath.Join(os.TempDir(), "warden-npm-"+strings.ReplaceAll(target, "/", "_")+".lock")
	lock, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("open npm install lock: %w", err)
	}
	defer lock.Close() // closing releases the lock
	if err := lockFile(lock); err != nil {
		return fmt.Errorf("lock %s: %w", lockPath, err)
	}
	if ok, _ := npmInstalled(dir); ok {
		return nil // another process installed while we waited
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return fmt.Errorf("the npm packages of %s are not installed and npm is not on PATH: %w", dir, err)
	}
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("npm ci in %s: %w\n%s", dir, err, tail(out, 2000))
	}
	ok, err := npmInstalled(dir)
	if !ok {
		return fmt.Errorf("npm ci in %s succeeded but node_modules does not match the lockfile: %w", dir, err)
	}
	return nil
}

// npmInstalled reports whether dir/node_modules holds what
// dir/package-lock.json pins: npm's record of the tree it installed
// (node_modules/.package-lock.json) has every locked package at its locked
// version, source and integrity, and nothing else. Optional packages
// (other platforms' binaries) may be absent. When not, the error says
// what differs.
func npmInstalled(dir string) (bool, error) {
	want, err := readLockfile(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		return false, err
	}
	have, err := readLockfile(filepath.Join(dir, "node_modules", ".package-lock.json"))
	if err != nil {
		return false, err
	}
	for path, w := range want.Packages {
		if path == "" {
			continue // the project itself
		}
		h, ok := have.Packages[path]
		switch {
		case !ok && w.Optional:
		case !ok:
			return false, fmt.Errorf("%s is not installed", path)
		case h.Version != w.Version || h.Resolved != w.Resolved || h.Integrity != w.Integrity:
			return false, fmt.Errorf("%s is installed at %s, locked at %s", path, h.Version, w.Version)
		}
	}
	for path := range have.Packages {
		if _, ok := want.Packages[path]; !ok {
			return false, fmt.Errorf("%s is installed but not locked", path)
		}
	}
	return true, nil
}

func readLockfile(path string) (lockfile, error) {
	var lf lockfile
	data, err := os.ReadFile(path)
	if err != nil {
		return lf, fmt.Errorf("read lockfile: %w", err)
	}
	if err := json.Unmarshal(data, &lf); err != nil {
		return lf, fmt.Errorf("parse %s: %w", path, err)
	}
	if lf.Packages == nil {
		return lf, fmt.Errorf("%s: %w", path, errNoPackages)
	}
	return lf, nil
}

// errNoPackages is a lockfile of version 1, which npm ci rewrites.
var errNoPackages = errors.New("no \"packages\" section (lockfile version 1?)")

// tail returns the last n bytes of b.
func tail(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	return b[len(b)-n:]
}
