package supervisor

import (
	"sync"

	"github.com/warden-dev/warden/eval"
)

// Bounds of a replay's pinShare: past either it starts again empty.
const (
	maxPinShare      = 4096    // distinct intents
	maxPinShareBytes = 4 << 20 // bytes of their text
)

// pinShare hands out the provenance pins (eval.Pins) of each distinct
// intent across a replay's sessions, with the policy's configuration
// values: a history starts thousands of sessions with the same
// configuration and a few intents, and finding the tokens of an intent
// cost a third of replaying a short session. It is safe for concurrent
// use by replay's workers.
type pinShare struct {
	config []string // the policy's configuration values
	mu     sync.Mutex
	byText map[string]*eval.Pins
	bytes  int
}

func newPinShare(policy *Policy) *pinShare {
	return &pinShare{config: policy.Workflow.ConfigValues(), byText: map[string]*eval.Pins{}}
}

// provenance starts a session's provenance with this intent (its words,
// intentWords) and the policy's configuration; a nil share works them out
// for the session alone.
func (s *pinShare) provenance(policy *Policy, intent string) *eval.Provenance {
	if s == nil {
		return eval.NewProvenance(intent, policy.Workflow.ConfigValues())
	}
	s.mu.Lock()
	pins, ok := s.byText[intent]
	s.mu.Unlock()
	if !ok {
		pins = eval.NewPins(intent, s.config)
		s.mu.Lock()
		if len(s.byText) >= maxPinShare || s.bytes+len(intent) > maxPinShareBytes {
			clear(s.byText)
			s.bytes = 0
		}
		s.byText[intent] = pins
		s.bytes += len(intent)
		s.mu.Unlock()
	}
	return pins.Provenance()
}
