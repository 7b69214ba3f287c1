package main

import (
	"net/http"
	"path/filepath"

	"github.com/warden-dev/warden/sink"
)

// exportCursor is where the live OCSF export records what it delivered:
// beside the history, so a restart resumes there.
func exportCursor(dataDir string) string { return filepath.Join(dataDir, "export-ocsf.cursor") }

// startExport starts the live OCSF export the configuration asks for, as
// background work of a: it stops before the store closes.
func startExport(a *app) error {
	if a.cfg.Export == nil || a.cfg.Export.OCSF == nil {
		return nil
	}
	c := a.cfg.Export.OCSF
	var to sink.Destination
	if c.File != "" {
		f, err := sink.File(c.File)
		if err != nil {
			return err
		}
		to = f
	} else {
		h := http.Header{}
		for _, hd := range c.Headers {
			h.Set(hd.Name, string(hd.Value))
		}
		to = sink.HTTP(c.URL, h)
	}
	s, err := sink.New(sink.Options{History: a.db, To: to, Cursor: exportCursor(a.cfg.DataDir),
		Batch: c.Batch, Interval: c.Interval, Logger: a.log})
	if err != nil {
		_ = to.Close()
		return err
	}
	a.bg.Go(s.Run)
	return nil
}
