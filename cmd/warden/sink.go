package main

import (
	"net/http"
	"net/url"
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
	where := c.File
	if c.File != "" {
		f, err := sink.File(c.File)
		if err != nil {
			return err
		}
		to = f
	} else {
		if u, err := url.Parse(c.URL); err == nil {
			where = u.Scheme + "://" + u.Host + u.Path // no query: it may hold a token
		}
		h := http.Header{}
		for _, hd := range c.Headers {
			h.Set(hd.Name, string(hd.Value))
		}
		to = sink.HTTP(c.URL, h)
	}
	s, err := sink.New(sink.Options{History: a.st.(sink.History), To: to, Cursor: exportCursor(a.cfg.DataDir),
		Batch: c.Batch, Interval: c.Interval, Logger: a.log})
	if err != nil {
		_ = to.Close()
		return err
	}
	a.bg.Go(s.Run)
	a.log.Info("exporting history as OCSF", "to", where, "cursor", exportCursor(a.cfg.DataDir))
	return nil
}
