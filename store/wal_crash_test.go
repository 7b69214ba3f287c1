package store

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The crash test runs this test binary again as a child that appends
// large events from several sessions at once, prints every append that
// returned (so was acknowledged), and kills itself with SIGKILL once the
// log has been emptied (wrapped) a given number of times and a few more
// appends went through. The parent then opens the store as the next
// start would and demands every acknowledged event.

const (
	crashEnvDB    = "WARDEN_STORE_CRASH_DB"
	crashEnvBytes = "WARDEN_STORE_CRASH_BYTES" // acknowledged bytes after which the child dies
	crashEnvRound = "WARDEN_STORE_CRASH_ROUND"
	crashSessions = 4
	crashPayload  = 60 << 10 // about the 64 KiB a recorded result may hold
)

// TestCrashChild is the child; it does nothing unless the crash test ran
// it.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashEnvDB)
	if path == "" {
		return
	}
	limit, err := strconv.ParseInt(os.Getenv(crashEnvBytes), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	round := os.Getenv(crashEnvRound)
	db, err := Open(path)
	if err != nil {
		fmt.Printf("open: %v\n", err)
		os.Exit(3)
	}
	ctx := context.Background()
	data, _ := json.Marshal(map[string]string{"text": strings.Repeat("r", crashPayload)})
	var acked atomic.Int64
	var out sync.Mutex
	var wg sync.WaitGroup
	for i := range crashSessions {
		id := fmt.Sprintf("r%s-s%d", round, i)
		if err := db.CreateSession(ctx, Session{ID: id, Agent: "a", Started: time.Now()}); err != nil {
			fmt.Printf("create: %v\n", err)
			os.Exit(3)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				ev, err := db.Append(ctx, id, Event{Kind: KindResult, Tool: "big", OK: true, Data: data})
				if err != nil {
					out.Lock()
					fmt.Printf("append: %v\n", err)
					os.Exit(3)
				}
				out.Lock()
				fmt.Printf("ack %s %d\n", id, ev.Seq)
				out.Unlock()
				if acked.Add(int64(len(data))) > limit {
					out.Lock() // no more acks are printed
					p, _ := os.FindProcess(os.Getpid())
					_ = p.Kill()
					select {}
				}
			}
		}()
	}
	wg.Wait()
}

// TestCrashAfterWrapsLosesNothing: kill -9 after the log has wrapped
// several times (each wrap empties it at walResetSize) loses no
// acknowledged event, the chains verify, and the next start knows it
// recovered. Each round kills at another point: just after a wrap, in the
// middle of an epoch, and further on.
func TestCrashAfterWrapsLosesNothing(t *testing.T) {
	path := t.TempDir() + "/warden.db"
	wraps := []float64{3.02, 3.5, 4.1}
	for round, w := range wraps {
		limit := int64(w * walResetSize)
		before := logEpoch(t, path+"-wal")
		acked := runCrashChild(t, path, round, limit)
		// The child's Open started epoch before+1; each wrap one more.
		if got := logEpoch(t, path+"-wal") - before - 1; got < uint32(w) {
			t.Fatalf("round %d: the log wrapped %d times before the kill; the test needs %d", round, got, uint32(w))
		}
		if len(acked) == 0 {
			t.Fatalf("round %d: the child acknowledged nothing", round)
		}
		db, err := Open(path)
		if err != nil {
			t.Fatalf("round %d: Open after kill -9: %v", round, err)
		}
		ctx := context.Background()
		for id, top := range acked {
			evs, err := db.Events(ctx, id)
			if err != nil {
				t.Fatalf("round %d: events of %s: %v", round, id, err)
			}
			if uint64(len(evs)) < top {
				t.Errorf("round %d: session %s has %d events after the crash; %d were acknowledged", round, id, len(evs), top)
			}
		}
		rep, err := db.Verify(ctx)
		if err != nil || len(rep.Broken) > 0 {
			t.Fatalf("round %d: verify: %+v, %v", round, rep.Broken, err)
		}
		t.Logf("round %d: killed after %.2f wraps; %d sessions, recovered %d events from the log", round, w, len(acked), db.Recovered())
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// logEpoch is the epoch in the header of the log at path, 0 when there is
// none yet.
func logEpoch(t *testing.T, path string) uint32 {
	t.Helper()
	c, err := readLog(path)
	if err != nil {
		t.Fatal(err)
	}
	return c.epoch
}

// runCrashChild runs one child round against path and returns, per
// session, the highest seq it acknowledged before it died.
func runCrashChild(t *testing.T, path string, round int, limit int64) map[string]uint64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnvDB+"="+path, crashEnvBytes+"="+strconv.FormatInt(limit, 10), crashEnvRound+"="+strconv.Itoa(round))
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[string]uint64{}
	var other []string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 && f[0] == "ack" {
			seq, err := strconv.ParseUint(f[2], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			acked[f[1]] = max(acked[f[1]], seq)
			continue
		}
		other = append(other, sc.Text())
	}
	err = cmd.Wait()
	if st, ok := cmd.ProcessState.Sys().(interface{ Signaled() bool }); !ok || !st.Signaled() {
		t.Fatalf("round %d: the child did not die by a signal: %v\n%s", round, err, strings.Join(other, "\n"))
	}
	return acked
}
