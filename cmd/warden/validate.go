package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/warden-dev/warden/config"
)

type validateCmd struct {
	Config string `short:"c" required:"" help:"Configuration file (YAML)."`
	Strict bool   `help:"Also fail when an environment variable the config names (token_env, secret_env, or one expanded in a value) is not set; without it that is a warning, so a config can be checked where its secrets are not."`
}

// Run checks the config and every workflow and rules file it names in one
// pass, and reports every problem of every file at once.
func (c *validateCmd) Run(g *cli) error {
	cfg, warnings, err := config.Check(c.Config, c.Strict)
	var es config.Errors
	if err != nil && !errors.As(err, &es) {
		return exitError{code: 2, msg: "invalid configuration:\n" + err.Error()}
	}
	for _, w := range warnings {
		fmt.Fprintln(g.stdout(), "warning: "+w.Error())
	}
	var problems []string
	if err != nil {
		problems = append(problems, err.Error())
	}
	workflows := 0
	if cfg != nil {
		ps, pw, perr := loadPolicies(cfg)
		for _, w := range pw {
			fmt.Fprintln(g.stdout(), w)
		}
		if perr != nil {
			problems = append(problems, perr.Error())
		}
		for _, p := range ps {
			if p.Workflow != nil {
				workflows++
			}
		}
	}
	if len(problems) > 0 {
		return exitError{code: 2, msg: "invalid configuration:\n" + strings.Join(problems, "\n")}
	}
	fmt.Fprintf(g.stdout(), "%s: valid (%d upstreams, %d agents, %d workflows)\n", cfg.File, len(cfg.Upstreams), len(cfg.Agents), workflows)
	return nil
}
