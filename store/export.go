package store

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// The history export format (docs/history-export.md): JSON Lines, each
// session as a header line {"session": Session} followed by one line
// {"event": Event} per event, in seq order. The header carries the chain
// head (last_seq, head), so a reader can check that the events that follow
// are the whole chain, unaltered, without the store.

// exportLine is one line of an export: exactly one field is set.
type exportLine struct {
	Session *Session `json:"session,omitempty"`
	Event   *Event   `json:"event,omitempty"`
}

// ExportedSession is one session read back from an export.
type ExportedSession struct {
	Session Session
	Events  []Event
}

// maxExportLine bounds one line of an export when reading it back: an
// event holds at most a few hundred KiB (results are cut at 64 KiB).
const maxExportLine = 16 << 20

// WriteExport writes one session and its events in the export format.
// evs must be the session's chain as stored, ending at s's head, for the
// export to read back (ReadExport checks that).
func WriteExport(w io.Writer, s Session, evs []Event) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(exportLine{Session: &s}); err != nil {
		return fmt.Errorf("store: export session %q: %w", s.ID, err)
	}
	for i := range evs {
		if err := enc.Encode(exportLine{Event: &evs[i]}); err != nil {
			return fmt.Errorf("store: export session %q event %d: %w", s.ID, evs[i].Seq, err)
		}
	}
	return nil
}

// ReadExport reads an export, checks each session's chain (every hash,
// every link, and that it ends at the header's head) and calls fn with
// each session in file order. It stops at the first problem, with the
// line number. A chain may start after seq 1 only if an earlier prune took
// its start; its first link cannot be checked here then.
func ReadExport(r io.Reader, fn func(ExportedSession) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxExportLine)
	var cur *ExportedSession
	line := 0
	done := func() error {
		if cur == nil {
			return nil
		}
		if err := checkExported(*cur); err != nil {
			return fmt.Errorf("session %q (ending at line %d): %w", cur.Session.ID, line, err)
		}
		err := fn(*cur)
		cur = nil
		return err
	}
	for sc.Scan() {
		line++
		var l exportLine
		if err := decodeStrict(sc.Bytes(), &l); err != nil {
			return fmt.Errorf("export line %d: %w", line, err)
		}
		switch {
		case (l.Session == nil) == (l.Event == nil):
			return fmt.Errorf("export line %d: want exactly one of session or event", line)
		case l.Session != nil:
			if err := done(); err != nil {
				return err
			}
			if l.Session.ID == "" {
				return fmt.Errorf("export line %d: session with empty id", line)
			}
			cur = &ExportedSession{Session: *l.Session}
		default:
			if cur == nil {
				return fmt.Errorf("export line %d: event before any session header", line)
			}
			cur.Events = append(cur.Events, *l.Event)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("export line %d: %w", line+1, err)
	}
	return done()
}

// checkExported checks one exported session's chain against its header.
func checkExported(x ExportedSession) error {
	s := x.Session
	if len(x.Events) == 0 {
		if s.LastSeq != 0 && s.Head == "" {
			return errors.New("header has a head seq but no head hash")
		}
		return nil
	}
	prev := x.Events[0].Prev
	if x.Events[0].Seq == 1 && prev != "" {
		return errors.New("event 1 has a prev hash")
	}
	for i, ev := range x.Events {
		want := x.Events[0].Seq + uint64(i)
		switch {
		case ev.Seq == 0 || ev.Seq != want:
			return fmt.Errorf("event %d follows event %d: events are missing or reordered", ev.Seq, want-1)
		case ev.Session != s.ID:
			return fmt.Errorf("event %d names session %q", ev.Seq, ev.Session)
		case ev.Prev != prev:
			return fmt.Errorf("event %d: prev does not match the hash of event %d", ev.Seq, ev.Seq-1)
		}
		h, err := hashEvent(ev)
		if err != nil {
			return fmt.Errorf("event %d: %w", ev.Seq, err)
		}
		if h != ev.Hash {
			return fmt.Errorf("event %d: hash mismatch: the event was altered", ev.Seq)
		}
		prev = ev.Hash
	}
	last := x.Events[len(x.Events)-1]
	if last.Seq != s.LastSeq || last.Hash != s.Head {
		return fmt.Errorf("events end at %d but the header's head is event %d (or its hash differs): truncated or extended", last.Seq, s.LastSeq)
	}
	return nil
}

// WriteExportFile writes a new export file at path through fill (which
// writes sessions with WriteExport): into a temporary file in the same
// directory, fsync'd, renamed into place, and the directory fsync'd, so
// that once it returns the file survives a crash whole or not at all. It
// returns the file's hex SHA-256.
func WriteExportFile(path string, fill func(io.Writer) error) (string, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("export directory: %w", err)
	}
	f, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return "", fmt.Errorf("export file: %w", err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	h := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(f, h), 1<<20)
	if err := fill(bw); err != nil {
		return "", fmt.Errorf("export %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		return "", fmt.Errorf("export %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("export %s: sync: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("export %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("export %s: %w", path, err)
	}
	ok = true
	if err := syncDir(dir); err != nil {
		return "", fmt.Errorf("export %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// randomSuffix keeps two exports in the same second apart.
func randomSuffix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
