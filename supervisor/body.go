package supervisor

import (
	"bytes"
	"io"
	"net/http"
)

// readBody reads r's body whole, refusing more than limit bytes (the error
// is then an *http.MaxBytesError). A body of declared length is read into
// a buffer of that length: io.ReadAll grows one from 512 bytes, and every
// request to the front is read whole.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	rd := http.MaxBytesReader(w, r.Body, limit)
	n := r.ContentLength
	if n <= 0 || n > limit {
		return io.ReadAll(rd)
	}
	b := make([]byte, n, n+1)
	if _, err := io.ReadFull(rd, b); err != nil {
		return nil, err
	}
	// net/http ends a body at its declared length; whatever else a reader
	// gives is read too, under the same limit.
	k, err := rd.Read(b[n : n+1])
	switch {
	case k == 0 && err == io.EOF:
		return b, nil
	case k == 0 && err != nil:
		return nil, err
	}
	rest, err := io.ReadAll(rd)
	if err != nil {
		return nil, err
	}
	return append(b[:n+1], rest...), nil
}

// readBack hands a body already read on to the handler behind the front.
type readBack struct{ bytes.Reader }

// Close is a no-op: the body was read whole and its connection's body
// closed by net/http.
func (*readBack) Close() error { return nil }
