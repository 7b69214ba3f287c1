package store

import (
	"bytes"
	"context"
	"errors"
	"hash/crc32"
	"os"
	"strings"
	"testing"
	"time"
)

// closedWithLog returns the path of a store closed after one append to s1
// (so bbolt has copied LSN 1), and that append's chain head.
func closedWithLog(t *testing.T) (string, chainHead) {
	t.Helper()
	db, path := openTest(t)
	mustCreate(t, db, "s1", "a", time.Now())
	first := mustAppend(t, db, "s1", "before")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path, chainHead{first.Seq, first.Hash}
}

// TestDamagedLogIsNeverReset: a log that cannot be read back whole fails
// Open with an error naming the file, and the file is left as it was, so
// whatever acknowledged events it holds are still there to be rescued.
func TestDamagedLogIsNeverReset(t *testing.T) {
	tests := []struct {
		name string
		// write puts a damaged log at wal; head is s1's chain head and
		// bbolt has copied up to LSN 1.
		write func(t *testing.T, wal string, head chainHead)
		want  string
	}{
		{"truncated header", func(t *testing.T, wal string, _ chainHead) {
			writeFile(t, wal, []byte("WAL2\x07\x00"))
		}, "header cut short"},
		{"corrupted header", func(t *testing.T, wal string, head chainHead) {
			writeLog(t, wal, 1, logged(t, "s1", head, 2, ""), nil)
			b := readFile(t, wal)
			copy(b, "XAL2")
			writeFile(t, wal, b)
		}, "not a write-ahead log"},
		{"base beyond what bbolt has", func(t *testing.T, wal string, head chainHead) {
			writeLog(t, wal, 5, nil, nil)
		}, "only reached 1"},
		{"log lost frames that bbolt copied", func(t *testing.T, wal string, head chainHead) {
			writeLog(t, wal, 0, nil, nil)
		}, "copied up to log sequence number 1"},
		{"a gap in the log sequence", func(t *testing.T, wal string, head chainHead) {
			recs := logged(t, "s1", head, 2, "")
			f2 := frameOf(t, 7, 3, recs[1]) // LSN 3 where 2 is due
			writeLog(t, wal, 1, nil, f2)
		}, "where 2 was due"},
		{"acknowledged frames stamped with an older epoch", func(t *testing.T, wal string, head chainHead) {
			// What the wrap bug wrote: a round framed before the log was
			// emptied, put under the new header.
			recs := logged(t, "s1", head, 2, "")
			writeLog(t, wal, 1, nil, append(frameOf(t, 6, 2, recs[0]), frameOf(t, 6, 3, recs[1])...))
		}, "beyond the readable end"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path, head := closedWithLog(t)
			wal := path + "-wal"
			tc.write(t, wal, head)
			before := readFile(t, wal)
			_, err := Open(path)
			if err == nil {
				t.Fatal("Open succeeded over a damaged log")
			}
			if !errors.Is(err, ErrLogDamaged) || !strings.Contains(err.Error(), wal) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open: %v\nwant ErrLogDamaged naming %s and saying %q", err, wal, tc.want)
			}
			if after := readFile(t, wal); !bytes.Equal(before, after) {
				t.Fatal("Open changed the damaged log")
			}
		})
	}
}

// TestUnreadableLogFailsOpen: a log that cannot even be read (here a
// directory where the file should be) fails Open, naming it.
func TestUnreadableLogFailsOpen(t *testing.T) {
	path, _ := closedWithLog(t)
	wal := path + "-wal"
	if err := os.Remove(wal); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(wal, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path); err == nil || !strings.Contains(err.Error(), wal) {
		t.Fatalf("Open with an unreadable log: %v; want an error naming %s", err, wal)
	}
}

// TestNewLogs: a missing, an empty or a never-written (all zero) log file
// is a new log: Open succeeds and the history is intact.
func TestNewLogs(t *testing.T) {
	for name, content := range map[string][]byte{"missing": nil, "empty": {}, "zeroed": make([]byte, walChunk), "a few zeros": make([]byte, 5)} {
		t.Run(name, func(t *testing.T) {
			path, _ := closedWithLog(t)
			wal := path + "-wal"
			if content == nil {
				if err := os.Remove(wal); err != nil {
					t.Fatal(err)
				}
			} else {
				writeFile(t, wal, content)
			}
			db, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if ev := mustAppend(t, db, "s1", "after"); ev.Seq != 2 {
				t.Fatalf("append after a new log: seq %d, want 2", ev.Seq)
			}
			if rep, err := db.Verify(context.Background()); err != nil || len(rep.Broken) > 0 {
				t.Fatalf("verify: %+v, %v", rep, err)
			}
		})
	}
}

// TestFirstFormatLogIsRecovered: a log written by the first format (8-byte
// header, frames without LSNs) that a crash left behind is copied in, and
// replaced by a log of the current format.
func TestFirstFormatLogIsRecovered(t *testing.T) {
	path, head := closedWithLog(t)
	recs := logged(t, "s1", head, 2, "")
	buf := append([]byte(walMagicV1), 9, 0, 0, 0)
	for _, r := range recs {
		buf = appendFrameV1(buf, 9, r.marshal())
	}
	writeFile(t, path+"-wal", append(buf, make([]byte, 64)...))
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.Recovered() != 2 {
		t.Fatalf("recovered %d events, want 2", db.Recovered())
	}
	evs, err := db.Events(context.Background(), "s1")
	if err != nil || len(evs) != 3 || evs[2].Tool != "from-log" {
		t.Fatalf("events: %d, %v", len(evs), err)
	}
	if c, err := readLog(path + "-wal"); err != nil || c.v1 {
		t.Fatalf("log after recovery: v1=%v, %v; want the current format", c.v1, err)
	}
}

// appendFrameV1 frames a payload as the first format did.
func appendFrameV1(buf []byte, epoch uint32, payload []byte) []byte {
	ep := []byte{byte(epoch), byte(epoch >> 8), byte(epoch >> 16), byte(epoch >> 24)}
	n := len(payload)
	buf = append(buf, byte(n), byte(n>>8), byte(n>>16), byte(n>>24))
	sum := crcOf(ep, payload)
	buf = append(buf, byte(sum), byte(sum>>8), byte(sum>>16), byte(sum>>24))
	buf = append(buf, ep...)
	return append(buf, payload...)
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func crcOf(head, payload []byte) uint32 {
	return crc32.Update(crc32.Checksum(head, crcTable), crcTable, payload)
}
