package console

import (
	"bytes"
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
)

// renderPage runs a real page template with data, as a signed-in operator.
func renderPage(t *testing.T, name string, data any) string {
	t.Helper()
	pages, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := pages[name].ExecuteTemplate(&buf, "layout", view{Operator: "carol", CSRF: "c", Page: name, Data: data}); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// A rug-pulling upstream names a tool so that its "Accept" form, once
// the browser resolves the dot segments of its action, posts somewhere
// else (here: kill every session of another agent). The name must stay
// one path segment and reach the accept handler whole.
func TestAttackToolNameStaysOnePathSegment(t *testing.T) {
	for _, name := range []string{"../agents/victim/kill?", "a/b", "x#y", "..", "ok_tool"} {
		t.Run(name, func(t *testing.T) {
			page := renderPage(t, "tools", []supervisor.ToolStatus{{Name: name, Changed: true, Hash: "h2", Pinned: "h1"}})
			m := regexp.MustCompile(`<form method="post" action="(/console/tools/[^"]*)"`).FindStringSubmatch(page)
			if m == nil {
				t.Fatalf("no accept form in:\n%s", page)
			}
			base, _ := url.Parse("http://127.0.0.1/console/tools")
			ref, err := url.Parse(html.UnescapeString(m[1]))
			if err != nil {
				t.Fatal(err)
			}
			target := base.ResolveReference(ref) // removes dot segments as a browser does
			var hit, got string
			mux := http.NewServeMux()
			mux.HandleFunc("POST /console/tools/{name}/accept", func(_ http.ResponseWriter, r *http.Request) {
				hit, got = "accept", r.PathValue("name")
			})
			mux.HandleFunc("POST /", func(_ http.ResponseWriter, r *http.Request) { hit = r.URL.Path })
			mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, target.String(), nil))
			if hit != "accept" || got != name {
				t.Errorf("action %q posts to %q (tool %q), want the accept of %q", m[1], hit, got, name)
			}
		})
	}
}

// An agent hides what a held call does with characters the approver
// cannot see (zero-width, bidi overrides, controls) or a value too long to
// read: the page must spell the hidden ones out and show the whole value.
func TestAttackHeldCallShowsHiddenCharacters(t *testing.T) {
	long := strings.Repeat("A", 100_000) + "END"
	args, err := json.Marshal(map[string]string{"path": "/safe/\u202etxt.exe", "zw": "rm\u200b -rf", "long": long})
	if err != nil {
		t.Fatal(err)
	}
	a := store.Approval{ID: "ap1", Agent: "bot", Tool: "write\u202eeliF", Session: "s1", Args: args}
	page := renderPage(t, "approvals", approvalsView{Pending: []heldCall{{Approval: a}}})
	for _, hidden := range []string{"\u202e", "\u200b"} {
		if strings.Contains(page, hidden) {
			t.Errorf("page carries the invisible %U as is", []rune(hidden)[0])
		}
	}
	for _, want := range []string{`/safe/\u202Etxt.exe`, `rm\u200B -rf`, `write\u202EeliF`, long} {
		if !strings.Contains(page, want) {
			t.Errorf("page does not show %.40q", want)
		}
	}
}

func TestVisible(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain text, ünïcode", "plain text, ünïcode"},
		{"a\u202eb", `a\u202Eb`},
		{"tab\there", `tab\u0009here`},
		{"nbsp\u00a0x", `nbsp\u00A0x`},
		{"tag\U000E0041", `tag\uDB40\uDC41`},
	} {
		if got := visible(tc.in); got != tc.want {
			t.Errorf("visible(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
