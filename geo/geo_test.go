package geo

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOpenErrors: a database that cannot be opened is an error naming it,
// never a DB that locates nothing. Lookups in real data are tested in
// e2e, where the npm package with an MMDB is installed.
func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.mmdb")
	if err := os.WriteFile(junk, []byte("not a MaxMind database"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.mmdb")
	cases := []struct {
		name, country, asn, want string
	}{
		{"neither", "", "", "no database"},
		{"missing country", missing, "", "open country database " + missing},
		{"junk country", junk, "", "open country database " + junk},
		{"junk asn", "", junk, "open ASN database " + junk},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db, err := Open(c.country, c.asn)
			if err == nil {
				_ = db.Close()
				t.Fatalf("Open(%q, %q) succeeded", c.country, c.asn)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
		})
	}
}
