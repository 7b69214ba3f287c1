package main

import "fmt"

type validateCmd struct {
	Config string `short:"c" required:"" help:"Configuration file (YAML)."`
}

func (c *validateCmd) Run() error {
	cfg, err := loadConfig(c.Config)
	if err != nil {
		return err
	}
	fmt.Printf("%s: valid (%d upstreams, %d agents)\n", cfg.File, len(cfg.Upstreams), len(cfg.Agents))
	return nil
}
