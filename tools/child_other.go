//go:build !unix && !windows

package tools

import (
	"os/exec"

	"github.com/charmbracelet/log"
)

// childOS holds nothing here: this OS offers nothing to tie the child's
// life to warden's, so the transport's own close is all there is.
type childOS struct{}

func prepareChild(*exec.Cmd) {}

func (c *child) started(*log.Logger) error { return nil }

func (c *child) stop() {}

func (c *child) terminate() {}
