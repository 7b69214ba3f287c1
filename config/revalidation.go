package config

import (
	"github.com/goccy/go-yaml/ast"

	"github.com/warden-dev/warden"
)

// Revalidation says what to do when a session's remote address (IP) or
// user agent changes mid-session.
type Revalidation struct {
	// OnChange is warden.Flag (the default), warden.StepUp or warden.Kill.
	OnChange warden.Verdict
}

// revalidation reads the revalidation section.
func (d *decoder) revalidation(n ast.Node) Revalidation {
	r := Revalidation{OnChange: warden.Flag}
	fields, _ := d.mapping(n, "revalidation", "on_change")
	for _, f := range fields {
		if f.val == nil {
			continue
		}
		s, ok := d.str(f.val, "revalidation.on_change")
		if !ok {
			continue
		}
		v, err := warden.ParseVerdict(s)
		if err != nil || (v != warden.Flag && v != warden.StepUp && v != warden.Kill) {
			d.errorf(f.val, "revalidation.on_change %q is not one of flag, step_up, kill", s)
			continue
		}
		r.OnChange = v
	}
	return r
}
