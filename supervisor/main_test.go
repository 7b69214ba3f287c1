package supervisor

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: every
// goroutine the supervisor starts has an owner that ends it (Close).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestNoTestPackagesInProduction: production code serves real requests;
// it does not fake them with net/http/httptest (nor import testing).
func TestNoTestPackagesInProduction(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if path == "net/http/httptest" || path == "testing" || strings.HasPrefix(path, "testing/") {
				t.Errorf("%s imports %s", name, path)
			}
		}
	}
}
