package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// descendants lists every process under pid (pid itself excluded), with
// its command line, from /proc.
func descendants(t *testing.T, pid int) map[int]string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	parent := map[int]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// The command name is in parentheses and may hold spaces: the
		// fields after its closing one are state, then the parent's pid.
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(f) > 1 {
			parent[p], _ = strconv.Atoi(f[1])
		}
	}
	out := map[int]string{}
	var walk func(int)
	walk = func(of int) {
		for p, pp := range parent {
			if pp == of {
				cl, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(p), "cmdline"))
				out[p] = strings.ReplaceAll(string(cl), "\x00", " ")
				walk(p)
			}
		}
	}
	walk(pid)
	return out
}

// zombie says whether pid has exited and waits only to be reaped.
func zombie(pid int) bool {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return true
	}
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(f) > 0 && f[0] == "Z"
}
