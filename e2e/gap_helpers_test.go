package e2e

import "github.com/warden-dev/warden/store"

// callOf returns the last call event and the last result event of tool
// among evs; either is nil when absent.
func callOf(evs []store.Event, tool string) (call, result *store.Event) {
	for i, e := range evs {
		switch {
		case e.Kind == store.KindCall && e.Tool == tool:
			call = &evs[i]
		case e.Kind == store.KindResult && e.Tool == tool:
			result = &evs[i]
		}
	}
	return call, result
}
