package main

import (
	"bytes"
	"io"
	"strings"

	"github.com/alecthomas/kong"
)

// helpPrinter is kong's help with required alternatives shown as such:
// kong lists the required flags of an xor group one after another
// ("--config=STRING --db=STRING"), which reads as if each were needed.
func helpPrinter(options kong.HelpOptions, ctx *kong.Context) error {
	var b bytes.Buffer
	out := ctx.Stdout
	ctx.Stdout = &b
	err := kong.DefaultHelpPrinter(options, ctx)
	ctx.Stdout = out
	if err != nil {
		return err
	}
	_, err = io.WriteString(out, alternatives(ctx.Model.Node).Replace(b.String()))
	return err
}

// alternatives rewrites, for every command under n, the run of its
// required flags of one xor group as "(--a=STRING | --b=STRING)".
func alternatives(n *kong.Node) *strings.Replacer {
	var pairs []string
	seen := map[string]bool{}
	var walk func(*kong.Node)
	walk = func(n *kong.Node) {
		groups := map[string][]string{}
		var order []string
		for _, f := range n.Flags {
			if !f.Required || f.Hidden {
				continue
			}
			for _, x := range f.Xor {
				if groups[x] == nil {
					order = append(order, x)
				}
				groups[x] = append(groups[x], f.Summary())
			}
		}
		for _, x := range order {
			run := strings.Join(groups[x], " ")
			if len(groups[x]) > 1 && !seen[run] {
				seen[run] = true
				pairs = append(pairs, run, "("+strings.Join(groups[x], " | ")+")")
			}
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(n)
	return strings.NewReplacer(pairs...)
}
