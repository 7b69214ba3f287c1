package eval

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// TestMemo: a memo asks its function once for each string it remembers,
// stays within its bounds, and serves concurrent askers.
func TestMemo(t *testing.T) {
	var mu sync.Mutex
	asked := map[string]int{}
	m := newMemo(func(s string) int {
		mu.Lock()
		defer mu.Unlock()
		asked[s]++
		return len(s)
	})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range 100 {
				if got := m.get(fmt.Sprint(i)); got != len(fmt.Sprint(i)) {
					t.Errorf("get(%d) = %d", i, got)
				}
			}
		})
	}
	wg.Wait()
	for s, n := range asked {
		if n > 4 {
			t.Errorf("%q asked %d times by 4 askers", s, n)
		}
	}
	before := asked["7"]
	m.get("7")
	if asked["7"] != before {
		t.Error("a remembered string was asked again")
	}
	for i := range memoMaxKeys + 10 {
		m.get(fmt.Sprint("k", i))
	}
	if len(m.m) > memoMaxKeys {
		t.Errorf("%d strings remembered, over %d", len(m.m), memoMaxKeys)
	}
	big := strings.Repeat("x", memoMaxBytes/64)
	for i := range 80 {
		m.get(big[i:])
	}
	if m.bytes > memoMaxBytes {
		t.Errorf("%d bytes remembered, over %d", m.bytes, memoMaxBytes)
	}
	huge := strings.Repeat("y", memoMaxBytes/64+1)
	m.get(huge)
	if _, ok := m.m[huge]; ok {
		t.Error("a string over the bound for one was remembered")
	}
}

// TestHelpersRemembered: host, urls and emails answer the same when asked
// again (errors too), and the lists they give are not shared between calls.
func TestHelpersRemembered(t *testing.T) {
	tests := []struct {
		src  string
		args map[string]any
		want string
	}{
		{`host(args.u)`, map[string]any{"u": "https://WWW.Example.com./x"}, "example.com"},
		{`host(args.u)`, map[string]any{"u": `https://a.com\@b.com`}, "error"},
		{`host(args.u)`, map[string]any{"u": 5}, ""},
		{`urls(args.u)`, map[string]any{"u": "see www.a.com and https://b.org/x."}, "[www.a.com https://b.org/x]"},
		{`emails(args.u)`, map[string]any{"u": "to a@b.co, c@d.org"}, "[a@b.co c@d.org]"},
	}
	for _, tc := range tests {
		p, err := Compile(tc.src, Binding)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			v, err := p.Run(&Env{Args: tc.args})
			got := fmt.Sprint(v)
			if err != nil {
				got = "error"
			}
			if got != tc.want {
				t.Errorf("%s with %v, run %d: %q, want %q", tc.src, tc.args, i, got, tc.want)
			}
			if l, ok := v.([]any); ok && len(l) > 0 {
				l[0] = "changed" // the next run must not see it
			}
		}
	}
}
