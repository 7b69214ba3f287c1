package main

import "fmt"

type validateCmd struct {
	Config string `short:"c" required:"" help:"Configuration file (YAML)."`
}

func (c *validateCmd) Run(g *cli) error {
	cfg, err := loadConfig(c.Config)
	if err != nil {
		return err
	}
	ps, warnings, err := loadPolicies(cfg)
	for _, w := range warnings {
		fmt.Fprintln(g.stdout(), w)
	}
	if err != nil {
		return exitError{code: 2, msg: "invalid policy:\n" + err.Error()}
	}
	workflows := 0
	for _, p := range ps {
		if p.Workflow != nil {
			workflows++
		}
	}
	fmt.Fprintf(g.stdout(), "%s: valid (%d upstreams, %d agents, %d workflows)\n", cfg.File, len(cfg.Upstreams), len(cfg.Agents), workflows)
	return nil
}
