package store

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"time"
)

// The write-ahead log.
//
// An appended event is durable once it is in the log: frames are appended
// to one file and a round of them costs one fdatasync, which is cheaper
// than a bbolt commit (page writes, then two syncs). The events are copied
// into bbolt right after, in the background; the log is emptied whenever
// everything in it is in bbolt, and on Open whatever a crash left in it is
// copied in first. Copying is idempotent: an event whose seq bbolt already
// has is skipped.
//
// The file starts with an 8-byte header: "WLOG" and a 4-byte epoch. A
// frame is a 4-byte little-endian payload length, a 4-byte CRC-32C, the
// 4-byte epoch and the payload (a walRecord in JSON); the checksum covers
// epoch and payload. The file is grown in sparse chunks and written in
// place: an fdatasync then has no file size to record, which on ext4 costs
// about half of an appending write's. Emptying the log bumps the epoch
// instead of erasing: older frames further on no longer count. Reading
// stops at the first frame that is torn, corrupt or of another epoch; the
// appends in a torn frame never returned, so no caller was told they were
// durable.

// maxFrame bounds one frame's payload when reading the log back.
const maxFrame = 64 << 20

// walChunk is how much the file grows at a time.
const walChunk = 4 << 20

const (
	walMagic  = "WLOG"
	walHeader = 8
	frameHead = 12
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// walRecord is one appended event as the log keeps it.
type walRecord struct {
	Session string
	Seq     uint64
	Hash    string
	Time    time.Time
	Event   json.RawMessage // the stored encoding (encodeEvent)
	SetData bool
	Data    json.RawMessage
}

// marshal encodes a record as a frame payload: length-prefixed fields,
// then the event's bytes as they are (no JSON work on the hot path).
func (r walRecord) marshal() []byte {
	b := make([]byte, 0, 32+len(r.Session)+len(r.Hash)+len(r.Data)+len(r.Event))
	b = binary.AppendUvarint(b, uint64(len(r.Session)))
	b = append(b, r.Session...)
	b = binary.AppendUvarint(b, r.Seq)
	b = binary.AppendUvarint(b, uint64(len(r.Hash)))
	b = append(b, r.Hash...)
	b = binary.AppendVarint(b, r.Time.UnixNano())
	if r.SetData {
		b = append(b, 1)
		b = binary.AppendUvarint(b, uint64(len(r.Data)))
		b = append(b, r.Data...)
	} else {
		b = append(b, 0)
	}
	return append(b, r.Event...)
}

// unmarshalRecord decodes a frame payload.
func unmarshalRecord(b []byte) (walRecord, error) {
	var r walRecord
	str := func() (string, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return "", false
		}
		s := string(b[k : k+int(n)])
		b = b[k+int(n):]
		return s, true
	}
	var ok bool
	if r.Session, ok = str(); !ok {
		return r, errors.New("bad session")
	}
	seq, k := binary.Uvarint(b)
	if k <= 0 {
		return r, errors.New("bad seq")
	}
	r.Seq, b = seq, b[k:]
	if r.Hash, ok = str(); !ok {
		return r, errors.New("bad hash")
	}
	ns, k := binary.Varint(b)
	if k <= 0 || len(b) == k {
		return r, errors.New("bad time")
	}
	r.Time, b = time.Unix(0, ns).UTC(), b[k:]
	flag := b[0]
	b = b[1:]
	if flag == 1 {
		d, ok := str()
		if !ok {
			return r, errors.New("bad data")
		}
		r.SetData, r.Data = true, json.RawMessage(d)
	}
	r.Event = json.RawMessage(b)
	return r, nil
}

// wal is the log file; only the writer goroutine writes and resets it.
type wal struct {
	f     *os.File
	path  string
	epoch uint32
	off   int64 // where the next frame goes
	size  int64 // the file's size
}

// openWAL opens (creating) the log at path and returns the records of its
// current epoch.
func openWAL(path string) (*wal, []walRecord, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("open log %s: %w", path, err)
	}
	w := &wal{f: f, path: path}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("open log %s: %w", path, err)
	}
	w.size = fi.Size()
	var hdr [walHeader]byte
	if _, err := f.ReadAt(hdr[:], 0); err != nil || string(hdr[:4]) != walMagic {
		// New, or never got its header: nothing in it was acknowledged.
		// A random epoch keeps frames an earlier header wrote from counting.
		if err := w.start(randomEpoch()); err != nil {
			f.Close()
			return nil, nil, err
		}
		return w, nil, nil
	}
	w.epoch = binary.LittleEndian.Uint32(hdr[4:])
	recs, end := readFrames(f, w.epoch)
	w.off = end
	return w, recs, nil
}

// start writes a fresh header with epoch and makes it durable.
func (w *wal) start(epoch uint32) error {
	var hdr [walHeader]byte
	copy(hdr[:4], walMagic)
	binary.LittleEndian.PutUint32(hdr[4:], epoch)
	if _, err := w.f.WriteAt(hdr[:], 0); err != nil {
		return fmt.Errorf("write log header: %w", err)
	}
	w.epoch, w.off = epoch, walHeader
	if w.size < walChunk {
		if err := w.f.Truncate(walChunk); err != nil {
			return fmt.Errorf("grow log: %w", err)
		}
		w.size = walChunk
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("sync log: %w", err)
	}
	return nil
}

// readFrames reads the frames of epoch from the start of the log; end is
// the offset just past the last whole one.
func readFrames(f *os.File, epoch uint32) (recs []walRecord, end int64) {
	r := bufio.NewReaderSize(io.NewSectionReader(f, walHeader, 1<<62), 1<<20)
	end = walHeader
	var hdr [frameHead]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return recs, end
		}
		n := binary.LittleEndian.Uint32(hdr[0:4])
		sum := binary.LittleEndian.Uint32(hdr[4:8])
		if n == 0 || n > maxFrame || binary.LittleEndian.Uint32(hdr[8:12]) != epoch {
			return recs, end
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(r, payload); err != nil {
			return recs, end
		}
		if crc32.Update(crc32.Checksum(hdr[8:12], crcTable), crcTable, payload) != sum {
			return recs, end
		}
		rec, err := unmarshalRecord(payload)
		if err != nil {
			return recs, end
		}
		recs = append(recs, rec)
		end += int64(frameHead) + int64(n)
	}
}

// appendFrame encodes rec as a frame of epoch onto buf.
func appendFrame(buf []byte, epoch uint32, rec walRecord) ([]byte, error) {
	payload := rec.marshal()
	if len(payload) > maxFrame {
		return buf, fmt.Errorf("log record of %d bytes exceeds %d", len(payload), maxFrame)
	}
	var ep [4]byte
	binary.LittleEndian.PutUint32(ep[:], epoch)
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(payload)))
	buf = binary.LittleEndian.AppendUint32(buf, crc32.Update(crc32.Checksum(ep[:], crcTable), crcTable, payload))
	buf = append(buf, ep[:]...)
	return append(buf, payload...), nil
}

// write puts frames at the end of the log and makes them durable.
func (w *wal) write(frames []byte) error {
	if err := w.put(frames); err != nil {
		return err
	}
	return w.sync()
}

// put puts frames at the end of the log, not yet durable.
func (w *wal) put(frames []byte) error {
	if need := w.off + int64(len(frames)); need > w.size {
		size := (need/walChunk + 1) * walChunk
		if err := w.f.Truncate(size); err != nil {
			return fmt.Errorf("grow log: %w", err)
		}
		w.size = size
	}
	if _, err := w.f.WriteAt(frames, w.off); err != nil {
		return fmt.Errorf("write log: %w", err)
	}
	w.off += int64(len(frames))
	return nil
}

// sync makes everything put so far durable. It may run while the next
// frames are put: fdatasync covers whatever was written before it began.
func (w *wal) sync() error {
	if err := fdatasync(w.f); err != nil {
		return fmt.Errorf("sync log: %w", err)
	}
	return nil
}

func randomEpoch() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return binary.LittleEndian.Uint32(b[:])
}

// reset empties the log by starting a new epoch; the caller knows
// everything in it is in bbolt.
func (w *wal) reset() error {
	if w.off == walHeader {
		return nil
	}
	return w.start(w.epoch + 1)
}

func (w *wal) close() error { return w.f.Close() }
