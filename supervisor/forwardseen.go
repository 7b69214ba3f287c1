package supervisor

import (
	"errors"
	"net/http"
	"sync"
	"time"
)

// seenForwards makes a signed forward single-use on the replica that
// receives it: a request captured between replicas and sent again within
// its signature's window is refused, not served twice. A per-replica
// memory suffices: a replica forwards only to the session's owner, and a
// forward that reaches any other replica is refused there (503), so a
// replay can only be served by the replica the original went to, which
// remembers it. A signature is remembered as long as it can verify
// (forwardSkew either side of its time); the memory is bounded, and
// refuses forwards rather than forget one early (fail closed).
type seenForwards struct {
	mu sync.Mutex
	// Two generations, each spanning twice forwardSkew: a signature
	// entered in cur stays at least that long (in cur, then in prev),
	// which outlasts its validity, and dropping prev is O(1).
	cur, prev map[string]struct{}
	since     time.Time // when cur began
	max       int       // signatures held at most, both generations
}

// maxSeenForwards bounds the signatures a replica remembers: about
// 2,000 forwards a second sustained over the four minutes two
// generations span, some 50 MB at most.
const maxSeenForwards = 1 << 19

// errReplayed and errTooManyForwards refuse a forwarded request.
var (
	errReplayed        = errors.New("this forwarded request was served already: a replay")
	errTooManyForwards = errors.New("too many forwarded requests to remember: try again")
)

// forwardRefusedStatus is the HTTP status that refuses a forwarded
// request for err: 403 for a replay, 503 (try again) for a full memory.
func forwardRefusedStatus(err error) int {
	if errors.Is(err, errTooManyForwards) {
		return http.StatusServiceUnavailable
	}
	return http.StatusForbidden
}

func newSeenForwards(max int) *seenForwards {
	return &seenForwards{cur: map[string]struct{}{}, prev: map[string]struct{}{}, max: max}
}

// first records sig, seen at now, and returns an error unless it is the
// first time: errReplayed, or errTooManyForwards when the memory is full.
func (s *seenForwards) first(sig string, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Sub(s.since) >= 2*forwardSkew {
		s.prev, s.cur, s.since = s.cur, make(map[string]struct{}, len(s.cur)), now
	}
	_, inCur := s.cur[sig]
	_, inPrev := s.prev[sig]
	if inCur || inPrev {
		return errReplayed
	}
	if len(s.cur)+len(s.prev) >= s.max {
		return errTooManyForwards
	}
	s.cur[sig] = struct{}{}
	return nil
}
