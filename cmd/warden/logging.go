package main

import (
	"io"
	"os"
	"time"

	"github.com/charmbracelet/log"
)

// newLogger builds warden's logger: readable text on a terminal, or JSON
// lines for machines. Flags win over the config's log section.
func newLogger(w io.Writer, g *cli, level, format string) *log.Logger {
	if g.LogLevel != "" {
		level = g.LogLevel
	}
	if g.LogFormat != "" {
		format = g.LogFormat
	}
	opts := log.Options{ReportTimestamp: true, TimeFormat: time.RFC3339, Level: log.InfoLevel}
	if lvl, err := log.ParseLevel(level); err == nil && level != "" {
		opts.Level = lvl
	}
	if format == "json" {
		opts.Formatter = log.JSONFormatter
	}
	if w == nil {
		w = os.Stderr
	}
	return log.NewWithOptions(w, opts)
}
