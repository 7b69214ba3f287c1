package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/warden-dev/warden/store"
)

// fillDisk makes every later write to the file at path fail as on a full
// disk: each of this process's descriptors open on it is replaced by one
// on /dev/full, where a write fails with ENOSPC. The file itself is left
// as it was. (Linux only: /proc/self/fd, /dev/full, dup3.)
func fillDisk(t *testing.T, path string) {
	t.Helper()
	full, err := os.OpenFile("/dev/full", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no /dev/full: %v", err)
	}
	defer full.Close()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err != nil || target != path {
			continue
		}
		num, err := strconv.Atoi(fd.Name())
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Dup3(int(full.Fd()), num, syscall.O_CLOEXEC); err != nil {
			t.Fatalf("replace descriptor %d of %s: %v", num, path, err)
		}
		n++
	}
	if n == 0 {
		t.Fatalf("no open descriptor on %s", path)
	}
}

// TestDurableWriteFailureRefusesCall: when the history cannot be written
// (the write-ahead log's disk is full), warden refuses the agent's call
// with an error that says it could not be recorded, and does not forward
// it: the upstream never sees it.
func TestDurableWriteFailureRefusesCall(t *testing.T) {
	l := newLadder(t)
	c := connect(t, l.URL, opsToken)
	if got := resultText(callTool(t, c, "pay", map[string]any{"amount": 1, "to": "bob"})); got != "paid 1 to bob" {
		t.Fatalf("payment before the disk filled = %q", got)
	}
	path, err := filepath.EvalSymlinks(l.DBPath)
	if err != nil {
		t.Fatal(err)
	}
	fillDisk(t, path+"-wal")

	res := callTool(t, c, "pay", map[string]any{"amount": 2, "to": "eve"})
	if !res.IsError || !strings.Contains(resultText(res), "refused") || !strings.Contains(resultText(res), "recorded") {
		t.Fatalf("payment with the history unwritable = %q (error %v), want a refusal saying it could not be recorded", resultText(res), res.IsError)
	}
	if n := l.Up.paid.Load(); n != 1 {
		t.Fatalf("the upstream was paid %d times, want 1: a call that is not on record must not be forwarded", n)
	}

	// What was acknowledged before the disk filled is all still there
	// when the file is opened again; the refused call is not.
	sid := c.GetSessionId()
	l.stop()
	db, err := store.Open(l.DBPath)
	if err != nil {
		t.Fatalf("reopen the history: %v", err)
	}
	defer db.Close()
	evs, err := db.Events(t.Context(), sid)
	if err != nil {
		t.Fatal(err)
	}
	var pays []string
	for _, e := range evs {
		if e.Tool == "pay" {
			pays = append(pays, e.Kind+" "+string(e.Args))
		}
	}
	if len(pays) != 2 || !strings.Contains(pays[0], `"to":"bob"`) || strings.Contains(strings.Join(pays, " "), "eve") {
		t.Fatalf("pay events after reopening = %q, want the first payment's call and result only", pays)
	}
}
