package config

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// decoderSections says which top-level section of examples/warden.yaml
// documents the fields that each decoder function accepts ("" is the top
// level itself). A new decoder function that reads a mapping must be added
// here, which is the point: its fields then have to be documented too.
var decoderSections = map[string]string{
	"top":            "",
	"log":            "log",
	"admin":          "admin",
	"adminTokens":    "admin",
	"approvals":      "approvals",
	"webhooks":       "approvals",
	"revalidation":   "revalidation",
	"network":        "network",
	"geoip":          "network",
	"throttle":       "throttle",
	"rate":           "throttle",
	"upstream":       "upstreams",
	"stdio":          "upstreams",
	"remote":         "upstreams",
	"agent":          "agents",
	"agentRetention": "agents",
	"recordResults":  "agents",
	"budgets":        "agents",
	"judge":          "agents",
	"retention":      "retention",
	"limits":         "limits",
	"anchor":         "anchor",
	"export":         "export",
	"exportSink":     "export",
	"store":          "store",
	"postgres":       "store",
	"tracing":        "tracing",
}

// TestExampleDocumentsEveryField keeps the reference honest: every field
// the decoder accepts appears in the example, in its own section, as a key
// or as a commented-out key. The fields are read from the decoder's own
// source (its d.mapping calls), so a new field fails this test until the
// example shows it.
func TestExampleDocumentsEveryField(t *testing.T) {
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	fields := decoderFields(t)
	for _, f := range undocumented(string(data), fields) {
		t.Errorf("example does not show field %s", f)
	}
}

// TestExampleFieldCheckCatchesDeletions deletes one documented field at a
// time from the example and requires the check to miss it, including
// fields whose name hides inside another (timeout in call_timeout) or is
// shared with another section (admin's listen, an agent's throttle).
func TestExampleFieldCheckCatchesDeletions(t *testing.T) {
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	fields := decoderFields(t)
	tests := []struct {
		line string // deleted, compared trimmed
		want string // section.field reported
	}{
		{"timeout: 2m", "approvals.timeout"},
		{"listen: 127.0.0.1:7801", "admin.listen"},
		{"dir: .", "upstreams.dir"},
		{"max_delay: 2s", "throttle.max_delay"},
		{"throttle: {per_minute: 30, burst: 5}", "agents.throttle"},
		{"# rules: ./rules.yaml", ".rules"},
		{"elicitation: false", "approvals.elicitation"},
		{"tool_prefix: fs_", ""}, // still shown on the first upstream
	}
	for _, tc := range tests {
		t.Run(tc.line, func(t *testing.T) {
			text, n := deleteLine(string(data), tc.line)
			if n != 1 {
				t.Fatalf("%q is on %d lines of the example, want 1", tc.line, n)
			}
			got := undocumented(text, fields)
			if tc.want == "" {
				if len(got) != 0 {
					t.Fatalf("deleting %q reported %v; the field is still shown elsewhere in its section", tc.line, got)
				}
				return
			}
			if len(got) != 1 || got[0] != tc.want {
				t.Fatalf("deleting %q reported %v, want [%s]", tc.line, got, tc.want)
			}
		})
	}
}

// decoderFields reads the package's source and returns, for each section
// of decoderSections, the field names its d.mapping calls accept.
func decoderFields(t *testing.T) map[string][]string {
	t.Helper()
	fset := token.NewFileSet()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, e.Name(), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, file)
	}
	vars := stringSliceVars(files)
	fields := map[string][]string{}
	for _, file := range files {
		for _, decl := range file.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok || len(call.Args) < 3 {
					return true // a mapping with no known list takes any key
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok || sel.Sel.Name != "mapping" {
					return true
				}
				section, ok := decoderSections[fn.Name.Name]
				if !ok {
					t.Errorf("%s: decoder function %s reads a mapping; add it to decoderSections", fset.Position(call.Pos()), fn.Name.Name)
					return true
				}
				for _, arg := range call.Args[2:] {
					names, err := literalStrings(arg, vars)
					if err != nil {
						t.Errorf("%s: %v", fset.Position(arg.Pos()), err)
					}
					fields[section] = append(fields[section], names...)
				}
				return true
			})
		}
	}
	if len(fields[""]) == 0 || len(fields["upstreams"]) == 0 {
		t.Fatalf("found no decoder fields (%v); has the decoder stopped using d.mapping?", fields)
	}
	return fields
}

// stringSliceVars returns the package-level []string variables written as
// literals (topFields, approvalFields), by name.
func stringSliceVars(files []*ast.File) map[string]*ast.CompositeLit {
	vars := map[string]*ast.CompositeLit{}
	for _, file := range files {
		for _, decl := range file.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.VAR {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if i < len(vs.Values) {
						if lit, ok := vs.Values[i].(*ast.CompositeLit); ok {
							vars[name.Name] = lit
						}
					}
				}
			}
		}
	}
	return vars
}

// literalStrings returns the field names an argument of d.mapping stands
// for: a string literal, or a package variable spread with `...`.
func literalStrings(arg ast.Expr, vars map[string]*ast.CompositeLit) ([]string, error) {
	switch a := arg.(type) {
	case *ast.BasicLit:
		s, err := strconv.Unquote(a.Value)
		return []string{s}, err
	case *ast.Ident:
		lit, ok := vars[a.Name]
		if !ok {
			return nil, &unreadableArg{a.Name}
		}
		var out []string
		for _, el := range lit.Elts {
			names, err := literalStrings(el, vars)
			if err != nil {
				return nil, err
			}
			out = append(out, names...)
		}
		return out, nil
	}
	return nil, &unreadableArg{"an expression"}
}

type unreadableArg struct{ what string }

func (e *unreadableArg) Error() string {
	return "d.mapping is given " + e.what + " that this test cannot read as field names; use string literals or a []string literal variable"
}

// undocumented returns "section.field" for each field that the example's
// section does not show, sorted.
func undocumented(example string, fields map[string][]string) []string {
	sections := exampleSections(example)
	var out []string
	for section, names := range fields {
		for _, f := range names {
			// A key starts its line (after indentation, a comment's #, a
			// list's -) or follows { or , in a flow mapping; prose that
			// merely mentions the name does not count.
			re := regexp.MustCompile(`(?m)(^\s*(#\s*)?(-\s+)?|[{,]\s*)` + regexp.QuoteMeta(f) + `:(\s|$)`)
			if !re.MatchString(sections[section]) {
				out = append(out, section+"."+f)
			}
		}
	}
	sort.Strings(out)
	return out
}

// exampleSections splits the example by top-level key, live or commented
// out. "" holds the lines written at column 0 (top-level keys, live or
// commented out); every other entry holds the lines of one top-level
// section, its key line included.
func exampleSections(example string) map[string]string {
	sections := map[string]string{}
	current := ""
	topKey := regexp.MustCompile(`^([a-z_]+):`)
	// A section that the example shows commented out ("# anchor:") starts
	// at its commented key, when that key is a section's name.
	commented := regexp.MustCompile(`^#\s([a-z_]+):(\s|$)`)
	known := map[string]bool{}
	for _, sec := range decoderSections {
		known[sec] = true
	}
	for _, line := range strings.Split(example, "\n") {
		if m := topKey.FindStringSubmatch(line); m != nil {
			current = m[1]
		} else if m := commented.FindStringSubmatch(line); m != nil && known[m[1]] {
			current = m[1]
		}
		if line != "" && line[0] != ' ' {
			sections[""] += line + "\n"
		}
		if current != "" {
			sections[current] += line + "\n"
		}
	}
	return sections
}

// deleteLine removes the lines whose trimmed text is line, and says how
// many it removed.
func deleteLine(text, line string) (string, int) {
	var kept []string
	n := 0
	for _, l := range strings.Split(text, "\n") {
		if strings.TrimSpace(l) == line {
			n++
			continue
		}
		kept = append(kept, l)
	}
	return strings.Join(kept, "\n"), n
}
