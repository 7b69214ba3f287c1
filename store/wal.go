package store

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"runtime"
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
// Every frame carries a log sequence number (LSN): 1, 2, 3, ... over the
// whole life of the store, never reused. bbolt records the LSN of the last
// frame it has copied (in the same transaction as the events), and the
// log's header the LSN that everything before its first frame had reached
// when it was emptied (its base). So Open can tell whether the log and
// bbolt between them still hold every acknowledged event: bbolt must have
// reached the base, and the frames must follow the base without a gap.
//
// The file starts with a 16-byte header: "WAL2", a 4-byte epoch and the
// 8-byte base LSN. A frame is a 4-byte little-endian payload length, a
// 4-byte CRC-32C, the 4-byte epoch, the 8-byte LSN and the payload (a
// walRecord); the checksum covers epoch, LSN and payload. The file is
// grown in sparse chunks and written in place: an fdatasync then has no
// file size to record, which on ext4 costs about half of an appending
// write's. Emptying the log bumps the epoch instead of erasing: older
// frames further on no longer count. Frames are stamped by the log itself
// as they are put, with the epoch of the header they are written under.
//
// Reading stops at the first frame that is torn, corrupt or of another
// epoch; the appends in a torn frame never returned, so no caller was told
// they were durable. Beyond that end only frames of older epochs can be
// intact, and all of them are at or below the base; an intact frame of an
// older epoch above the base was stamped wrong and is an acknowledged event
// that reading could not reach, so Open refuses to go on without it.
//
// Only a missing or empty file is a new log. A file that cannot be read,
// or whose header is not a log's, fails Open with an error that names the
// file: it may hold acknowledged events, and starting over would lose
// them. After a successful recovery the log is replaced by a new, empty
// one, so nothing of an earlier run is ever read again.

// maxFrame bounds one frame's payload when reading the log back.
const maxFrame = 64 << 20

// walChunk is how much the file grows at a time.
const walChunk = 4 << 20

const (
	walMagic  = "WAL2"
	walHeader = 16
	frameHead = 20

	// The first format had an 8-byte header ("WLOG", epoch) and 12-byte
	// frame heads without an LSN; Open still recovers such a log.
	walMagicV1  = "WLOG"
	walHeaderV1 = 8
	frameHeadV1 = 12
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// ErrLogDamaged is wrapped by Open's error when the write-ahead log cannot
// be read back whole: it may hold acknowledged events that are not in
// bbolt, so the store does not open over it.
var ErrLogDamaged = errors.New("write-ahead log damaged")

// walRecord is one appended event as the log keeps it.
type walRecord struct {
	LSN     uint64 // set by the log when the record is put or read
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
	return r.appendPayload(make([]byte, 0, 32+len(r.Session)+len(r.Hash)+len(r.Data)+len(r.Event)))
}

// appendPayload appends the record's payload (marshal) to b.
func (r *walRecord) appendPayload(b []byte) []byte {
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

// wal is the log file. Frames are stamped (frame) and the log reset under
// the journal's wmu; framed bytes are written (write) by one sync leader
// at a time, in the order they were framed.
type wal struct {
	f     *os.File
	path  string
	epoch uint32
	base  uint64 // the LSN every frame of this epoch follows
	lsn   uint64 // the LSN of the last frame stamped
	end   int64  // where the frame after the last stamped one will go
	off   int64  // where the next written frame goes
	size  int64  // the file's size
}

// logContents is what a log file held when it was opened.
type logContents struct {
	exists bool   // false for a missing or empty file: a new log
	epoch  uint32 // the header's
	base   uint64 // the header's; 0 for the first format
	v1     bool   // written in the first format, without LSNs
	recs   []walRecord
}

// last is the LSN of the last readable record, or the base without one.
func (c logContents) last() uint64 {
	if len(c.recs) == 0 || c.v1 {
		return c.base
	}
	return c.recs[len(c.recs)-1].LSN
}

// damaged wraps ErrLogDamaged with the file and what to do about it.
func damaged(path, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s; it may hold acknowledged events that are not in the history: "+
		"keep a copy of it, and move it aside only to start without them", ErrLogDamaged, path, fmt.Sprintf(format, args...))
}

// readLog reads the log at path: its header and the records of its
// current epoch. It fails, wrapping ErrLogDamaged, when the file is not a
// log or when acknowledged events in it could not be read.
func readLog(path string) (logContents, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return logContents{}, nil
	}
	if err != nil {
		return logContents{}, fmt.Errorf("open log %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return logContents{}, fmt.Errorf("open log %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return logContents{}, fmt.Errorf("open log %s: not a regular file (%s)", path, fi.Mode().Type())
	}
	if fi.Size() == 0 {
		return logContents{}, nil
	}
	var hdr [walHeader + frameHead]byte
	n, err := f.ReadAt(hdr[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return logContents{}, fmt.Errorf("read log %s: %w", path, err)
	}
	c := logContents{exists: true}
	switch {
	case n >= walHeader && string(hdr[:4]) == walMagic:
		c.epoch = binary.LittleEndian.Uint32(hdr[4:8])
		c.base = binary.LittleEndian.Uint64(hdr[8:16])
		err = c.readFrames(f, walHeader, frameHead)
	case n >= walHeaderV1 && string(hdr[:4]) == walMagicV1:
		c.epoch, c.v1 = binary.LittleEndian.Uint32(hdr[4:8]), true
		err = c.readFrames(f, walHeaderV1, frameHeadV1)
	case allZero(hdr[:n]):
		// Created, never given its header nor a frame: nothing in it was
		// ever acknowledged.
		return logContents{}, nil
	case n < walHeader:
		return c, damaged(path, "header cut short (%d bytes)", n)
	default:
		return c, damaged(path, "not a write-ahead log (header %q)", hdr[:4])
	}
	if err != nil {
		var d damageError
		if errors.As(err, &d) {
			return c, damaged(path, "%s", d.msg)
		}
		return c, fmt.Errorf("read log %s: %w", path, err)
	}
	return c, nil
}

// damageError says why a log's frames cannot be trusted to be complete.
type damageError struct{ msg string }

func (e damageError) Error() string { return e.msg }

// readFrames reads the frames of c's epoch from off on, and checks what
// lies beyond them (see the top of this file).
func (c *logContents) readFrames(f *os.File, off int64, head int) error {
	r := bufio.NewReaderSize(io.NewSectionReader(f, off, 1<<62), 1<<20)
	current, expect := true, c.base+1
	for {
		epoch, lsn, payload, ok, err := readFrame(r, head)
		if err != nil || !ok {
			return err
		}
		if current && epoch == c.epoch {
			if !c.v1 && lsn != expect {
				return damageError{fmt.Sprintf("frame at offset %d has log sequence number %d where %d was due", off, lsn, expect)}
			}
			rec, err := unmarshalRecord(payload)
			if err != nil {
				return damageError{fmt.Sprintf("frame at offset %d: %v", off, err)}
			}
			rec.LSN = lsn
			c.recs = append(c.recs, rec)
			expect++
			off += int64(head + len(payload))
			continue
		}
		// Past the readable end: stale frames of older epochs, or the
		// unsynced tail of this one.
		current = false
		if !c.v1 && epoch != c.epoch && lsn > c.last() {
			return damageError{fmt.Sprintf("an intact frame of epoch %d beyond the readable end holds log sequence number %d, after the last readable %d", epoch, lsn, c.last())}
		}
	}
}

// readFrame reads one frame; ok is false at the end of the frames (a
// zero, oversized, cut or corrupt frame). err is an I/O error.
func readFrame(r *bufio.Reader, head int) (epoch uint32, lsn uint64, payload []byte, ok bool, err error) {
	hdr := make([]byte, head)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return 0, 0, nil, false, endOrErr(err)
	}
	n := binary.LittleEndian.Uint32(hdr[0:4])
	sum := binary.LittleEndian.Uint32(hdr[4:8])
	if n == 0 || n > maxFrame {
		return 0, 0, nil, false, nil
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, 0, nil, false, endOrErr(err)
	}
	if crc32.Update(crc32.Checksum(hdr[8:], crcTable), crcTable, payload) != sum {
		return 0, 0, nil, false, nil
	}
	epoch = binary.LittleEndian.Uint32(hdr[8:12])
	if head == frameHead {
		lsn = binary.LittleEndian.Uint64(hdr[12:20])
	}
	return epoch, lsn, payload, true, nil
}

// endOrErr is nil for the end of the file (a cut frame) and err otherwise.
func endOrErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return nil
	}
	return err
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// createWAL replaces whatever is at path with a new, empty log of epoch
// whose frames follow base, made durable before it takes the old file's
// place, so a crash leaves either the old log or the new one.
func createWAL(path string, epoch uint32, base uint64) (*wal, error) {
	tmp := path + ".new"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create log %s: %w", tmp, err)
	}
	w := &wal{f: f, path: tmp}
	if err := w.start(epoch, base); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("create log %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("create log %s: %w", path, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("create log %s: %w", path, err)
	}
	if w.f, err = os.OpenFile(path, os.O_RDWR, 0); err != nil {
		return nil, fmt.Errorf("open log %s: %w", path, err)
	}
	w.path = path
	return w, nil
}

// start writes a fresh header with epoch and base and makes it durable.
func (w *wal) start(epoch uint32, base uint64) error {
	var hdr [walHeader]byte
	copy(hdr[:4], walMagic)
	binary.LittleEndian.PutUint32(hdr[4:8], epoch)
	binary.LittleEndian.PutUint64(hdr[8:16], base)
	if _, err := w.f.WriteAt(hdr[:], 0); err != nil {
		return fmt.Errorf("write log header %s: %w", w.path, err)
	}
	w.epoch, w.base, w.lsn, w.off, w.end = epoch, base, base, walHeader, walHeader
	if w.size < walChunk {
		if err := w.f.Truncate(walChunk); err != nil {
			return fmt.Errorf("grow log %s: %w", w.path, err)
		}
		w.size = walChunk
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("sync log %s: %w", w.path, err)
	}
	return nil
}

// frameSize is what a payload takes in the log.
func frameSize(payload []byte) int { return frameHead + len(payload) }

// put frames recs and writes them at the end of the log, not yet durable.
func (w *wal) put(recs []walRecord, payloads [][]byte) error {
	return w.write(w.frame(recs, payloads))
}

// frame frames recs (their payloads already marshalled) with the log's
// epoch and the next LSNs, and sets each record's LSN. Stamping with the
// header's own epoch, and writing before the log is next reset, is what
// keeps a frame from being written under a header it does not belong to.
func (w *wal) frame(recs []walRecord, payloads [][]byte) []byte {
	n := 0
	for _, p := range payloads {
		n += frameSize(p)
	}
	buf := make([]byte, 0, n)
	for i, p := range payloads {
		at := len(buf)
		buf = append(buf, make([]byte, frameHead)...)
		buf = append(buf, p...)
		recs[i].LSN = w.stamp(buf[at:])
	}
	return buf
}

// appendFrame marshals rec's payload into a frame at the end of dst and
// stamps it (see frame), so that an append costs no buffer of its own. A
// payload over maxFrame is refused with dst as it was and nothing stamped.
func (w *wal) appendFrame(dst []byte, rec *walRecord) ([]byte, error) {
	at := len(dst)
	dst = append(dst, make([]byte, frameHead)...)
	dst = rec.appendPayload(dst)
	if n := len(dst) - at - frameHead; n > maxFrame {
		return dst[:at], fmt.Errorf("log record of %d bytes exceeds %d", n, maxFrame)
	}
	rec.LSN = w.stamp(dst[at:])
	return dst, nil
}

// stamp fills in the head of frame (its payload in place after the head)
// with the payload's length, the checksum, the log's epoch and the next
// LSN, which it returns.
func (w *wal) stamp(frame []byte) uint64 {
	payload := frame[frameHead:]
	w.lsn++
	binary.LittleEndian.PutUint32(frame[0:4], uint32(len(payload)))
	binary.LittleEndian.PutUint32(frame[8:12], w.epoch)
	binary.LittleEndian.PutUint64(frame[12:20], w.lsn)
	binary.LittleEndian.PutUint32(frame[4:8], crc32.Update(crc32.Checksum(frame[8:20], crcTable), crcTable, payload))
	w.end += int64(len(frame))
	return w.lsn
}

// write puts framed bytes at the end of what is written, not yet durable.
func (w *wal) write(buf []byte) error {
	if len(buf) == 0 {
		return nil
	}
	if need := w.off + int64(len(buf)); need > w.size {
		size := (need/walChunk + 1) * walChunk
		if err := w.f.Truncate(size); err != nil {
			return fmt.Errorf("grow log: %w", err)
		}
		w.size = size
	}
	if _, err := w.f.WriteAt(buf, w.off); err != nil {
		return fmt.Errorf("write log: %w", err)
	}
	w.off += int64(len(buf))
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

// reset empties the log by starting a new epoch whose frames follow the
// last one put; the caller knows everything in it is in bbolt.
func (w *wal) reset() error {
	if w.end == walHeader {
		return nil
	}
	return w.start(w.epoch+1, w.lsn)
}

func (w *wal) close() error { return w.f.Close() }

// syncDir makes a rename in dir durable. Windows cannot open a directory
// for syncing; its renames are durable once MoveFileEx returns.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
