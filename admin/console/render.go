package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"

	"github.com/warden-dev/warden/admin"
)

// view is what every page's template gets.
type view struct {
	Operator string // "" on the login page
	CSRF     string
	Page     string // which navigation entry is current
	Data     any
}

// templateFuncs are the helpers the templates use.
func templateFuncs() template.FuncMap {
	return template.FuncMap{
		"when": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format("2006-01-02 15:04:05")
		},
		"join":    func(s []string) string { return visible(strings.Join(s, "; ")) },
		"visible": visible,
		// seg makes an agent- or upstream-chosen name one path segment:
		// html/template leaves "/", "?" and ".." alone in a URL's path,
		// so a tool named "../agents/x/kill?" would retarget its form.
		"seg": segment,
		"compact": func(b json.RawMessage) string {
			s, err := readable(b)
			if err != nil {
				return visible(string(b))
			}
			if s == "null" {
				return ""
			}
			return s
		},
	}
}

// segment escapes s as one path segment, dots included when s is "." or
// "..", which a browser would otherwise resolve away.
func segment(s string) string {
	if s == "." || s == ".." {
		return strings.Repeat("%2E", len(s))
	}
	return url.PathEscape(s)
}

// visible spells out the characters a reader cannot see or that reorder
// what is shown (controls, zero-width and bidi marks, odd spaces) as
// \uXXXX, so that an operator approves what the call really carries. In
// JSON the spelling means the same string, since a literal backslash
// there is already doubled.
func visible(s string) string {
	clean := true
	for _, r := range s {
		if r != ' ' && !unicode.IsPrint(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == ' ' || unicode.IsPrint(r):
			b.WriteRune(r)
		case r > 0xFFFF:
			hi, lo := utf16.EncodeRune(r)
			fmt.Fprintf(&b, "\\u%04X\\u%04X", hi, lo)
		default:
			fmt.Fprintf(&b, "\\u%04X", r)
		}
	}
	return b.String()
}

// parsePages parses each page under templates/ with layout.html.
func parsePages() (map[string]*template.Template, error) {
	out := map[string]*template.Template{}
	for _, name := range []string{"login", "sessions", "timeline", "approvals", "flags", "agents", "tools"} {
		t, err := template.New(name).Funcs(templateFuncs()).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

// render writes a page; a template that fails is a 500, not half a page.
func (c *console) render(w http.ResponseWriter, status int, name string, v view) {
	var buf bytes.Buffer
	if err := c.pages[name].ExecuteTemplate(&buf, "layout", v); err != nil {
		http.Error(w, "console page "+name+": "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// show renders a signed-in page.
func (c *console) show(w http.ResponseWriter, l login, name string, data any) {
	c.render(w, http.StatusOK, name, view{Operator: l.operator, CSRF: l.csrf, Page: name, Data: data})
}

// fail answers a page or action whose operation failed, with the status
// the admin API would give.
func fail(w http.ResponseWriter, err error) {
	http.Error(w, err.Error(), admin.StatusOf(err))
}
