package sink

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// fileDest appends batches to a file and fsyncs each.
type fileDest struct {
	f    *os.File
	path string
}

// File returns a destination that appends to path (made with 0600 if
// missing). A line cut short by a crash mid-write is removed first: its
// batch was not acknowledged, so the sink sends it again whole.
func File(path string) (Destination, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("sink file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sink file: %w", err)
	}
	d := &fileDest{f: f, path: path}
	if err := d.trimTornLine(); err != nil {
		f.Close()
		return nil, err
	}
	return d, nil
}

// trimTornLine cuts the file after its last newline, and leaves the
// offset at the end.
func (d *fileDest) trimTornLine() error {
	size, err := d.f.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("sink file %s: %w", d.path, err)
	}
	end := size
	buf := make([]byte, 64<<10)
	for end > 0 {
		n := min(int64(len(buf)), end)
		if _, err := d.f.ReadAt(buf[:n], end-n); err != nil {
			return fmt.Errorf("sink file %s: %w", d.path, err)
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			end = end - n + int64(i) + 1
			break
		}
		end -= n
	}
	if end == size {
		return nil
	}
	return d.truncate(end)
}

// truncate cuts the file to size, durably, and moves the offset there.
func (d *fileDest) truncate(size int64) error {
	if err := d.f.Truncate(size); err != nil {
		return fmt.Errorf("sink file %s: %w", d.path, err)
	}
	if err := d.f.Sync(); err != nil {
		return fmt.Errorf("sink file %s: %w", d.path, err)
	}
	if _, err := d.f.Seek(size, io.SeekStart); err != nil {
		return fmt.Errorf("sink file %s: %w", d.path, err)
	}
	return nil
}

// Deliver appends batch and fsyncs. A failed write is cut off again, so
// the retry does not follow half a batch.
func (d *fileDest) Deliver(_ context.Context, batch []byte) error {
	start, err := d.f.Seek(0, io.SeekCurrent)
	if err != nil {
		return fmt.Errorf("sink file %s: %w", d.path, err)
	}
	if _, err := d.f.Write(batch); err != nil {
		return d.undo(start, err)
	}
	if err := d.f.Sync(); err != nil {
		return d.undo(start, err)
	}
	return nil
}

func (d *fileDest) undo(start int64, cause error) error {
	if err := d.truncate(start); err != nil {
		return fmt.Errorf("sink file %s: %w (and cutting the partial batch: %w)", d.path, cause, err)
	}
	return fmt.Errorf("sink file %s: %w", d.path, cause)
}

// Close closes the file.
func (d *fileDest) Close() error { return d.f.Close() }
