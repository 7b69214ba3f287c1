package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
)

// TestHelpShowsAlternatives: flags of which one is required are shown as
// alternatives, not as if each were needed.
func TestHelpShowsAlternatives(t *testing.T) {
	tests := []struct {
		args       []string
		want, gone string
	}{
		{[]string{"sessions", "ls", "--help"}, "Usage: warden sessions ls (--config=STRING | --db=STRING) [flags]", "--config=STRING --db=STRING"},
		{[]string{"sessions", "show", "--help"}, "Usage: warden sessions show (--config=STRING | --db=STRING) <id> [flags]", "--config=STRING --db=STRING"},
		{[]string{"kill", "--help"}, "Usage: warden kill (--config=STRING | --admin=STRING) [<session>] [flags]", "--config=STRING --admin=STRING"},
		{[]string{"--help"}, "verify (--config=STRING | --db=STRING) [flags]", "--config=STRING --db=STRING"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out bytes.Buffer
			var c cli
			p, err := kong.New(&c, append(kongOptions(), kong.Writers(&out, &out), kong.Exit(func(int) {}))...)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = p.Parse(tt.args) // what follows the help (a missing flag) does not matter
			if !strings.Contains(out.String(), tt.want) || strings.Contains(out.String(), tt.gone) {
				t.Fatalf("help:\n%s\nwant %q, and not %q", out.String(), tt.want, tt.gone)
			}
		})
	}
}
