package supervisor

import (
	"fmt"
	"time"

	"github.com/warden-dev/warden/config"
	"golang.org/x/time/rate"
)

// replayPace is a replayed session's share of its workflow's throttle: the
// token bucket live traffic fills on the wall clock, filled here on the
// recorded one, so that a call over the rate is held back or refused as
// it was live (Supervisor.pace).
type replayPace struct {
	lim      *rate.Limiter // nil: the workflow sets no throttle
	maxDelay time.Duration
}

func newReplayPace(p *Policy, maxDelay time.Duration) replayPace {
	if maxDelay <= 0 {
		maxDelay = config.DefaultThrottleMaxDelay
	}
	pm, burst, ok := p.Workflow.Throttle()
	if !ok {
		return replayPace{}
	}
	return replayPace{lim: rate.NewLimiter(rate.Limit(pm/60), burst), maxDelay: maxDelay}
}

// fit takes a token for a call at now: held says how long the call was
// held back (empty when within the rate), refused why it was refused
// (empty when it goes ahead; it then takes no token).
func (rp replayPace) fit(now time.Time) (held, refused string) {
	if rp.lim == nil {
		return "", ""
	}
	r := rp.lim.ReserveN(now, 1)
	wait := rate.InfDuration
	if r.OK() {
		wait = r.DelayFrom(now)
	}
	switch {
	case wait == rate.InfDuration:
		r.CancelAt(now)
		return "", "rate limit exceeded"
	case wait > rp.maxDelay:
		r.CancelAt(now)
		return "", fmt.Sprintf("rate limit exceeded; retry after %s", wait.Round(100*time.Millisecond))
	case wait > 0:
		return fmt.Sprintf("held back %s by the rate limit", wait.Round(time.Millisecond)), ""
	}
	return "", ""
}
