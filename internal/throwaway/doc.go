// Package throwaway starts the outside programs that tests and the bench
// need for a while and then remove: a PostgreSQL cluster in a temporary
// folder and an HAProxy balancer, each on a free loopback port. It runs
// them in their own process group, so that a Ctrl-C meant for warden
// reaches warden, which then stops them in order.
//
// It imports no warden package, so that testkit can wrap it.
package throwaway

import "errors"

// ErrMissing says a program is not installed; the error wrapping it
// names the Debian package that provides it.
var ErrMissing = errors.New("not installed")
