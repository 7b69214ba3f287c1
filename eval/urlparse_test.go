package eval

import (
	"encoding/json"
	"errors"
	neturl "net/url"
	"os"
	"strings"
	"testing"
)

// TestHostRefusesWhatReadsTwoWays: the inputs where a browser (WHATWG) and
// an RFC 3986 client go to different hosts, or where the host is hidden,
// make host() fail; plain URLs give their host.
func TestHostRefusesWhatReadsTwoWays(t *testing.T) {
	tests := []struct {
		in, want string // want "" means refused
	}{
		{"https://informations.com/?key=1", "informations.com"},
		{"HTTPS://WWW.Example.COM:8443/a?b#c", "example.com"},
		{"www.example.com/path", "example.com"},
		{"example.com:8080/x", "example.com"},
		{"http://[::1]:80/", "::1"},
		{"https://bücher.example/", "xn--bcher-kva.example"},
		{"https://%65xample.com/", ""}, // browsers decode it, net/url refuses it
		// The cases: fetch goes to evil.com.
		{`https://evil.com\@informations.com/?key=1`, ""},
		{"https:evil.com/k=1#://informations.com", ""},
		// Userinfo hides the host from a reader.
		{"https://informations.com@evil.com/", ""},
		{"https://:@evil.com/", ""},
		{"https://user:pass@evil.com/", ""},
		// Backslashes, missing or odd slashes.
		{`https:\\evil.com\`, ""},
		{"https:/evil.com/", ""},
		{"http:evil.com", ""},
		// Characters that browsers drop and others keep.
		{"https://evil\t.com/", ""},
		{"https://evil.com\n.informations.com/", ""},
		// Numeric hosts that browsers rewrite.
		{"http://0x7f.1/", ""},
		{"http://2130706433/", ""},
		{"http://127.1/", ""},
		// No host a client fetches.
		{"javascript:alert(1)", ""},
		{"mailto:a@example.com", ""},
		{"file:///etc/passwd", ""},
		{"https:///", ""},
		{"", ""},
	}
	for _, tc := range tests {
		got, err := host(tc.in)
		if tc.want == "" {
			if err == nil || !errors.Is(err, errURL) {
				t.Errorf("host(%q) = %q, %v; want it refused", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("host(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if got, err := host(nil); got != "" || err != nil {
		t.Errorf("host(nil) = %q, %v; want no host and no error", got, err)
	}
}

// wptCase is one entry of the web-platform-tests URL data.
type wptCase struct {
	Input    string  `json:"input"`
	Base     *string `json:"base"`
	Failure  bool    `json:"failure"`
	Hostname string  `json:"hostname"`
}

// TestHostAgreesWithWHATWGTestData: over every input with a scheme in the
// web-platform-tests data (testdata/wpt-url), host() either refuses the
// input or gives the hostname that the WHATWG standard gives it, and
// never accepts an input the standard says is not a URL.
func TestHostAgreesWithWHATWGTestData(t *testing.T) {
	raw, err := os.ReadFile("testdata/wpt-url/urltestdata.json")
	if err != nil {
		t.Fatal(err)
	}
	var entries []json.RawMessage
	if err := json.Unmarshal(raw, &entries); err != nil {
		t.Fatal(err)
	}
	accepted, refused := 0, 0
	for _, e := range entries {
		var c wptCase
		if json.Unmarshal(e, &c) != nil || c.Input == "" {
			continue // comments are strings
		}
		if _, _, ok := cutScheme(trimC0(c.Input)); !ok {
			continue // no scheme: host() reads it as https, the data as relative
		}
		got, err := parseHost(c.Input)
		if err != nil {
			refused++
			continue
		}
		accepted++
		if c.Failure {
			t.Errorf("parseHost(%q) = %q; the standard says it is not a URL", c.Input, got)
			continue
		}
		want := strings.TrimSuffix(strings.TrimPrefix(c.Hostname, "["), "]")
		if c.Base != nil && want == "" {
			continue
		}
		if got != want {
			t.Errorf("parseHost(%q) = %q; browsers go to %q", c.Input, got, want)
		}
	}
	if accepted < 50 || refused < 50 {
		t.Fatalf("accepted %d, refused %d: the data did not exercise both sides", accepted, refused)
	}
	t.Logf("%d inputs accepted in agreement with the standard, %d refused", accepted, refused)
}

// TestHostRefusalFailsTheGuardClosed: a guard that compares host() of an
// ambiguous URL is an error, not a false or a true.
func TestHostRefusalFailsTheGuardClosed(t *testing.T) {
	prog, err := Compile(`host(args.url) == "informations.com"`, Guard)
	if err != nil {
		t.Fatal(err)
	}
	env := &Env{Args: map[string]any{"url": `https://evil.com\@informations.com/?key=1`}}
	if _, err := prog.Bool(env); err == nil || !strings.Contains(err.Error(), "backslash") {
		t.Fatalf("guard over an ambiguous URL: %v; want an error", err)
	}
}

// FuzzHost: whatever host() accepts, Go's RFC 3986 parser reads the same
// host in (so does the WHATWG parser, which parseHost consults).
func FuzzHost(f *testing.F) {
	for _, s := range []string{"https://example.com/", `https://a\@b`, "http://0x7f.1/", "www.x.com/a", "https://[::1]/", "https://bücher.example/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := parseHost(s)
		if err != nil {
			return
		}
		in := trimC0(s)
		if _, _, ok := cutScheme(in); !ok {
			in = "https://" + in
		}
		u, err := neturl.Parse(in)
		if err != nil {
			t.Fatalf("parseHost(%q) = %q, but net/url refuses it: %v", s, h, err)
		}
		if g := strings.ToLower(u.Hostname()); isASCII(g) && g != h {
			t.Fatalf("parseHost(%q) = %q, net/url reads %q", s, h, g)
		}
	})
}
