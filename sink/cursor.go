package sink

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/warden-dev/warden/store"
)

// cursor is how far the sink has delivered: per session, the seq of the
// last event whose batch the destination acknowledged. It lives in a file
// beside the store, replaced whole (write, fsync, rename) after each
// delivered batch, so a crash leaves the old cursor or the new one.
type cursor struct {
	path string
	seqs map[string]uint64
}

// cursorFile is the file's format.
type cursorFile struct {
	Version  int               `json:"version"`
	Sessions map[string]uint64 `json:"sessions"`
}

// loadCursor reads the cursor at path; a missing file is a cursor at the
// start of every chain. A damaged one is an error: starting over would
// send the whole history again.
func loadCursor(path string) (*cursor, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &cursor{path: path, seqs: map[string]uint64{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sink cursor: %w", err)
	}
	seqs, err := parseCursor(b)
	if err != nil {
		return nil, fmt.Errorf("sink cursor %s is damaged (%w); move it away to send the whole history again", path, err)
	}
	return &cursor{path: path, seqs: seqs}, nil
}

// parseCursor decodes a cursor file, strictly.
func parseCursor(b []byte) (map[string]uint64, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f cursorFile
	if err := dec.Decode(&f); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the cursor")
	}
	if f.Version != 1 {
		return nil, fmt.Errorf("version %d, want 1", f.Version)
	}
	if f.Sessions == nil {
		f.Sessions = map[string]uint64{}
	}
	for id := range f.Sessions {
		if id == "" {
			return nil, errors.New("a session with an empty id")
		}
	}
	return f.Sessions, nil
}

// advance records next (session -> last delivered seq) durably, then
// adopts it.
func (c *cursor) advance(next map[string]uint64) error {
	seqs := make(map[string]uint64, len(c.seqs)+len(next))
	for id, seq := range c.seqs {
		seqs[id] = seq
	}
	for id, seq := range next {
		seqs[id] = seq
	}
	_, err := store.WriteExportFile(c.path, func(w io.Writer) error {
		return json.NewEncoder(w).Encode(cursorFile{Version: 1, Sessions: seqs})
	})
	if err != nil {
		return fmt.Errorf("sink cursor: %w", err)
	}
	c.seqs = seqs
	return nil
}
