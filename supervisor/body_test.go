package supervisor

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestReadBody sends bodies over real HTTP, with and without a declared
// length, and checks what the front reads of them.
func TestReadBody(t *testing.T) {
	const limit = 1 << 10
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := readBody(w, r, limit)
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			w.WriteHeader(http.StatusRequestEntityTooLarge)
		case err != nil:
			w.WriteHeader(http.StatusBadRequest)
		default:
			_, _ = w.Write(b)
		}
	}))
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		name    string
		body    string
		chunked bool // no declared length
		want    int
	}{
		{"declared", strings.Repeat("a", 700), false, http.StatusOK},
		{"declared at the limit", strings.Repeat("b", limit), false, http.StatusOK},
		{"chunked", strings.Repeat("c", 700), true, http.StatusOK},
		{"chunked over the limit", strings.Repeat("d", limit+1), true, http.StatusRequestEntityTooLarge},
		{"empty", "", false, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader = strings.NewReader(tc.body)
			if tc.chunked {
				body = io.MultiReader(body) // hides the length: sent chunked
			}
			req, err := http.NewRequest(http.MethodPost, srv.URL, body)
			if err != nil {
				t.Fatal(err)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			got, err := io.ReadAll(res.Body)
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", res.StatusCode, tc.want)
			}
			if tc.want == http.StatusOK && string(got) != tc.body {
				t.Fatalf("read %d bytes, want the %d sent", len(got), len(tc.body))
			}
		})
	}
}

// TestReadBodyAllocations holds a body of declared length to one buffer
// of its size (and the limiting reader): io.ReadAll grew one from 512
// bytes, four buffers for this body.
func TestReadBodyAllocations(t *testing.T) {
	body := bytes.Repeat([]byte("x"), 4000)
	const runs = 50
	reqs := make([]*http.Request, runs+1)
	for i := range reqs {
		reqs[i] = httptest.NewRequest(http.MethodPost, "/mcp", bytes.NewReader(body))
	}
	w := httptest.NewRecorder()
	i := 0
	allocs := testing.AllocsPerRun(runs, func() {
		b, err := readBody(w, reqs[i], 1<<20)
		i++
		if err != nil || len(b) != len(body) {
			t.Fatalf("read %d bytes, %v", len(b), err)
		}
	})
	if allocs > 2 {
		t.Fatalf("%v allocations to read a body of declared length, want at most 2", allocs)
	}
}
