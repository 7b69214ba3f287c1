package supervisor

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/bits"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/warden-dev/warden/store"
)

// Behaviour signals: the agent doing what its own baseline never showed.
const (
	SignalNewTool       = "new_tool"       // a tool the agent was never seen calling
	SignalNewTransition = "new_transition" // a tool after another, never seen in that order
	SignalBurst         = "burst"          // more calls in a minute than the agent ever made, with headroom
	SignalOddHour       = "odd_hour"       // a call at an hour of day (UTC) the agent never worked
	SignalLargeResult   = "large_result"   // a result larger than the agent's 99th percentile, with headroom
)

// The baseline's tuning. A baseline learned from fewer than
// LearningSessions sessions is learning: its signals are recorded (as
// flags, weight 0) but add nothing to the session's risk.
const (
	LearningSessions  = 5
	baselineHistory   = 50 // sessions read from history to learn a baseline that was never saved
	burstFactor       = 2  // burst: calls in a minute above the baseline's most times this
	burstMin          = 10 // ...and above this, whatever the baseline
	largeFactor       = 2  // large_result: bytes above the p99 bucket's bound times this
	largeMin          = 4 << 10
	maxBaselineTools  = 1024 // names beyond these are not learned: memory stays bounded
	maxBaselineEdges  = 4096
	sizeBuckets       = 64
	transitionArrow   = " -> "
	maxEvidenceListed = 8
)

// Baseline is how an agent has behaved in the sessions warden learned
// from: the tools it called, in which order, how fast, how much they
// returned and at which hours. Only calls that went ahead count.
type Baseline struct {
	Agent    string `json:"agent"`
	Sessions int    `json:"sessions"` // sessions learned from, each with at least one call
	Calls    int    `json:"calls"`
	// Tools and Transitions ("a -> b") count calls by tool and by the tool
	// before them in the session.
	Tools       map[string]int `json:"tools"`
	Transitions map[string]int `json:"transitions"`
	// MaxPerMinute is the most calls any session made in 60 seconds.
	MaxPerMinute int `json:"max_calls_per_minute"`
	// ResultSizes counts results by size: entry i those of i significant
	// bits (sizes below 2^i); a fixed 64 counters whatever the volume.
	ResultSizes []uint64 `json:"result_sizes_log2"`
	// Hours counts calls by hour of day, UTC.
	Hours [24]int `json:"hours_utc"`
	// Args is, by tool, what its arguments looked like; ArgsSessions the
	// sessions they were learned from. A baseline saved before arguments
	// were learned has none: it gives no argument signal until it learns.
	Args         map[string]*ToolArgs `json:"args,omitempty"`
	ArgsSessions int                  `json:"args_sessions,omitempty"`
	Updated      time.Time            `json:"updated"`
}

// newBaseline is an agent's empty baseline.
func newBaseline(agent string) *Baseline {
	return &Baseline{Agent: agent, Tools: map[string]int{}, Transitions: map[string]int{}, Args: map[string]*ToolArgs{}, ResultSizes: make([]uint64, sizeBuckets)}
}

// Learning reports whether the baseline has seen too few sessions for its
// signals to count.
func (b *Baseline) Learning() bool { return b.Sessions < LearningSessions }

// ResultP99 is an upper bound of the 99th percentile of result sizes in
// bytes (the bound of its power-of-two bucket), and how many results
// it is from.
func (b *Baseline) ResultP99() (bound int64, results uint64) {
	for _, n := range b.ResultSizes {
		results += n
	}
	if results == 0 {
		return 0, 0
	}
	want := (results*99 + 99) / 100 // ceil(0.99 n)
	var seen uint64
	for i, n := range b.ResultSizes {
		if seen += n; seen >= want {
			return int64(1) << min(i, 61), results // 61: times largeFactor stays an int64
		}
	}
	return int64(1) << 61, results
}

// HoursWorked lists the UTC hours at which the agent made calls.
func (b *Baseline) HoursWorked() []int {
	var out []int
	for h, n := range b.Hours {
		if n > 0 {
			out = append(out, h)
		}
	}
	return out
}

// merge adds one session's observations.
func (b *Baseline) merge(o *observation) {
	if o.Calls == 0 {
		return
	}
	b.Sessions++
	b.Calls += o.Calls
	addCounts(b.Tools, o.Tools, maxBaselineTools)
	addCounts(b.Transitions, o.Transitions, maxBaselineEdges)
	b.MaxPerMinute = max(b.MaxPerMinute, o.MaxPerMinute)
	if len(b.ResultSizes) != sizeBuckets {
		b.ResultSizes = append(b.ResultSizes, make([]uint64, sizeBuckets)...)[:sizeBuckets]
	}
	for i, n := range o.ResultSizes {
		b.ResultSizes[i] += n
	}
	for h, n := range o.Hours {
		b.Hours[h] += n
	}
	if b.Args == nil {
		b.Args = map[string]*ToolArgs{}
	}
	b.ArgsSessions++
	for tool, a := range o.Args {
		learnArgs(b.Args, tool, a)
	}
	b.Updated = o.last
}

func addCounts(into, from map[string]int, limit int) {
	for k, n := range from {
		if _, ok := into[k]; ok || len(into) < limit {
			into[k] += n
		}
	}
}

// observation is one session's behaviour as it goes: a baseline of one
// session, with where the session is.
type observation struct {
	Baseline
	prev   string      // the last tool that went ahead
	window []time.Time // the calls of the last minute
	last   time.Time
}

func newObservation(agent string) *observation {
	return &observation{Baseline: *newBaseline(agent)}
}

// add records a call of tool with args (argsOf's reading; nil when they
// were not an object) that went ahead at at and returned size bytes
// (negative: no result seen).
func (o *observation) add(tool string, args *ToolArgs, at time.Time, size int) {
	o.Calls++
	o.Tools[tool]++
	if o.prev != "" {
		o.Transitions[o.prev+transitionArrow+tool]++
	}
	o.prev = tool
	o.MaxPerMinute = max(o.MaxPerMinute, slide(&o.window, at))
	if size >= 0 {
		o.ResultSizes[bits.Len(uint(size))]++
	}
	o.Hours[at.UTC().Hour()]++
	if args != nil {
		learnArgs(o.Args, tool, args)
	}
	o.last = at.UTC()
}

// slide adds at to the window of the last minute's times and returns how
// many it holds.
func slide(w *[]time.Time, at time.Time) int {
	cut := 0
	for cut < len(*w) && at.Sub((*w)[cut]) >= time.Minute {
		cut++
	}
	*w = append((*w)[cut:], at)
	return len(*w)
}

// BaselineHistory is recorded history to learn a baseline from: the
// store, or warden's admin API.
type BaselineHistory interface {
	Sessions(ctx context.Context, f store.Filter) ([]store.Session, error)
	Session(ctx context.Context, id string) (SessionView, error)
}

// LearnBaseline learns the agent's baseline from its last sessions in h
// (at most 50).
func LearnBaseline(ctx context.Context, h BaselineHistory, agent string) (*Baseline, error) {
	list, err := h.Sessions(ctx, store.Filter{Agent: agent, Limit: baselineHistory})
	if err != nil {
		return nil, fmt.Errorf("baseline of %s: %w", agent, err)
	}
	views := make([]SessionView, 0, len(list))
	for _, ss := range list {
		v, err := h.Session(ctx, ss.ID)
		if err != nil {
			return nil, fmt.Errorf("baseline of %s: %w", agent, err)
		}
		views = append(views, v)
	}
	return learnBaseline(agent, views), nil
}

// learnBaseline learns the agent's baseline from its recorded sessions:
// those that ended or expired (a killed session is not how the agent
// behaves; a live one is not over), each call that went ahead (has a
// result), in order of the sessions' starts.
func learnBaseline(agent string, views []SessionView) *Baseline {
	sort.SliceStable(views, func(i, j int) bool { return views[i].Session.Started.Before(views[j].Session.Started) })
	b := newBaseline(agent)
	for _, v := range views {
		if v.Session.Agent != agent || (v.Session.State != store.StateEnded && v.Session.State != store.StateExpired) {
			continue
		}
		b.merge(observe(agent, v.Events))
	}
	return b
}

// observe is a recorded session's observation: its tool calls' results.
func observe(agent string, evs []store.Event) *observation {
	o := newObservation(agent)
	calls := map[string]json.RawMessage{} // the calls' arguments
	for _, e := range evs {
		switch e.Kind {
		case store.KindCall:
			calls[e.CallID] = e.Args
		case store.KindResult:
			if args, ok := calls[e.CallID]; ok && e.Tool != "" {
				a, _ := argsOf(args)
				o.add(e.Tool, a, e.Time, e.Size)
			}
		}
	}
	return o
}

// finding is a signal the baseline gives, before it is raised.
type finding struct {
	name, key, evidence string
}

// checkCall is what calling tool at at tells against b, for a session
// that had calls (count in the last minute, this one included) after
// prev ("" for none).
func (b *Baseline) checkCall(tool, prev string, at time.Time, count int) []finding {
	if b.Sessions == 0 {
		return nil // nothing to compare with
	}
	var out []finding
	// of is formatted only for a finding: most calls have none.
	of := func() string { return fmt.Sprintf("in %d sessions (%d calls)", b.Sessions, b.Calls) }
	if b.Tools[tool] == 0 {
		out = append(out, finding{SignalNewTool, tool, fmt.Sprintf("agent %s called %s, never seen %s; tools seen: %s",
			b.Agent, tool, of(), listed(slices.Sorted(maps.Keys(b.Tools))))})
	} else if prev != "" && b.Transitions[prev+transitionArrow+tool] == 0 {
		edge := prev + transitionArrow + tool
		out = append(out, finding{SignalNewTransition, edge, fmt.Sprintf("agent %s called %s after %s, never seen in that order %s",
			b.Agent, tool, prev, of())})
	}
	if limit := max(b.MaxPerMinute*burstFactor, burstMin); count > limit {
		out = append(out, finding{SignalBurst, "", fmt.Sprintf("agent %s made %d calls in the last minute; the most seen %s was %d (limit %d)",
			b.Agent, count, of(), b.MaxPerMinute, limit)})
	}
	if h := at.UTC().Hour(); b.Hours[h] == 0 {
		out = append(out, finding{SignalOddHour, "", fmt.Sprintf("agent %s called %s at %02d:%02d UTC; hours (UTC) it worked %s: %v",
			b.Agent, tool, h, at.UTC().Minute(), of(), b.HoursWorked())})
	}
	return out
}

// checkResult is what a result of size bytes of tool tells against b.
func (b *Baseline) checkResult(tool string, size int) []finding {
	p99, n := b.ResultP99()
	if b.Sessions == 0 || n == 0 {
		return nil
	}
	if limit := max(p99*largeFactor, largeMin); int64(size) > limit {
		return []finding{{SignalLargeResult, tool, fmt.Sprintf("%s returned %d bytes to agent %s; its 99th percentile is under %d bytes in %d results (limit %d)",
			tool, size, b.Agent, p99, n, limit)}}
	}
	return nil
}

// listed joins names, the first few of them.
func listed(names []string) string {
	if len(names) > maxEvidenceListed {
		return strings.Join(names[:maxEvidenceListed], ", ") + fmt.Sprintf(" and %d more", len(names)-maxEvidenceListed)
	}
	return strings.Join(names, ", ")
}
