package supervisor

import (
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/warden-dev/warden/store"
)

// recorded is a session's history: each call "tool" (or "tool!" for one
// refused, without a result; "tool{...}" with those arguments) one second
// after the one before, from start.
func recorded(id, state string, start time.Time, size int, calls ...string) SessionView {
	v := SessionView{Session: store.Session{ID: id, Agent: "ops", Started: start, State: state}}
	for i, c := range calls {
		at := start.Add(time.Duration(i) * time.Second)
		tool, refused := strings.CutSuffix(c, "!")
		var args json.RawMessage
		if i := strings.IndexByte(tool, '{'); i >= 0 {
			tool, args = tool[:i], json.RawMessage(tool[i:])
		}
		cid := fmt.Sprint(id, i)
		v.Events = append(v.Events, store.Event{Kind: store.KindCall, CallID: cid, Tool: tool, Args: args, Time: at})
		if !refused {
			v.Events = append(v.Events, store.Event{Kind: store.KindResult, CallID: cid, Tool: tool, Time: at, Size: size})
		}
	}
	return v
}

var nine = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

func TestLearnBaseline(t *testing.T) {
	b := learnBaseline("ops", []SessionView{
		recorded("s2", store.StateExpired, nine.Add(time.Hour), 100, "read", "read", "read"),
		recorded("s1", store.StateEnded, nine, 100, "read", "send", "delete!"),
		recorded("killed", store.StateKilled, nine, 100, "exfiltrate"),
		recorded("live", store.StateActive, nine, 100, "live_tool"),
		recorded("empty", store.StateEnded, nine, 0),
	})
	want := &Baseline{Agent: "ops", Sessions: 2, Calls: 5,
		Tools:        map[string]int{"read": 4, "send": 1},
		Transitions:  map[string]int{"read -> send": 1, "read -> read": 2},
		MaxPerMinute: 3}
	got, _ := json.Marshal(struct {
		Sessions, Calls, Max int
		Tools, Transitions   map[string]int
	}{b.Sessions, b.Calls, b.MaxPerMinute, b.Tools, b.Transitions})
	exp, _ := json.Marshal(struct {
		Sessions, Calls, Max int
		Tools, Transitions   map[string]int
	}{want.Sessions, want.Calls, want.MaxPerMinute, want.Tools, want.Transitions})
	if string(got) != string(exp) {
		t.Fatalf("learned %s\nwant    %s", got, exp)
	}
	if h := b.HoursWorked(); fmt.Sprint(h) != "[9 10]" {
		t.Errorf("hours worked %v, want [9 10]", h)
	}
	if p, n := b.ResultP99(); p != 128 || n != 5 {
		t.Errorf("p99 %d of %d results, want under 128 of 5", p, n)
	}
	if !b.Learning() {
		t.Errorf("a baseline of %d sessions is not learning; the learning period is %d", b.Sessions, LearningSessions)
	}
}

func TestBaselineQuantileAndRate(t *testing.T) {
	b := newBaseline("ops")
	o := newObservation("ops")
	for i := range 200 {
		size := 1000 // 10 bits: under 1024
		if i%100 == 0 {
			size = 50_000 // 1% of results
		}
		// 200 calls, 5 seconds apart: 12 in any minute.
		o.add("read", nil, nine.Add(time.Duration(i)*5*time.Second), size)
	}
	b.merge(o)
	if p, _ := b.ResultP99(); p != 1024 {
		t.Errorf("p99 bound %d, want 1024 (99%% of results are 1000 bytes)", p)
	}
	if b.MaxPerMinute != 12 {
		t.Errorf("most calls in a minute %d, want 12", b.MaxPerMinute)
	}
}

// trained is a baseline out of its learning period: tools read and send,
// read -> send seen, at 09:00 UTC, 3 calls a minute at most, 1000-byte
// results.
func trained() *Baseline {
	var views []SessionView
	for i := range LearningSessions {
		views = append(views, recorded(fmt.Sprint("s", i), store.StateEnded, nine.Add(time.Duration(i)*time.Minute), 1000, "read", "send"))
	}
	return learnBaseline("ops", views)
}

func TestBaselineFindings(t *testing.T) {
	b := trained()
	if b.Learning() {
		t.Fatalf("baseline of %d sessions still learning", b.Sessions)
	}
	cases := []struct {
		name       string
		tool, prev string
		at         time.Time
		count      int
		size       int // result size; 0: only the call is checked
		want       string
	}{
		{"known", "send", "read", nine, 1, 1000, ""},
		{"new tool", "delete", "read", nine, 1, 0, SignalNewTool},
		{"new transition", "read", "send", nine, 1, 0, SignalNewTransition},
		{"first call", "read", "", nine, 1, 0, ""},
		{"at the burst limit", "read", "", nine, burstMin, 0, ""},
		{"burst", "read", "", nine, burstMin + 1, 0, SignalBurst},
		{"odd hour", "read", "", nine.Add(14 * time.Hour), 1, 0, SignalOddHour},
		{"result at the limit", "read", "", nine, 1, largeMin, ""},
		{"large result", "read", "", nine, 1, largeMin + 1, SignalLargeResult},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			found := b.checkCall(c.tool, c.prev, c.at, c.count)
			if c.size > 0 {
				found = append(found, b.checkResult(c.tool, c.size)...)
			}
			var names []string
			for _, f := range found {
				names = append(names, f.name)
				if !strings.Contains(f.evidence, "ops") {
					t.Errorf("evidence %q does not name the agent", f.evidence)
				}
			}
			if strings.Join(names, ",") != c.want {
				t.Fatalf("signals %v, want %q: %+v", names, c.want, found)
			}
		})
	}
	if found := newBaseline("ops").checkCall("anything", "", nine, 100); len(found) != 0 {
		t.Errorf("an empty baseline gave %+v; it has nothing to compare with", found)
	}
}

// TestBaselineSignalsOncePerSession: a session told of a new tool, a
// transition or a burst is not told again; another session is.
func TestBaselineSignalsOncePerSession(t *testing.T) {
	b := trained()
	w := &watched{raised: map[string]bool{}}
	var raised []string
	for i := range 3 {
		for _, f := range w.fresh(b.checkCall("delete", "read", nine, burstMin+1+i)) {
			raised = append(raised, f.name)
		}
	}
	if got := strings.Join(raised, ","); got != SignalNewTool+","+SignalBurst {
		t.Fatalf("raised %s over three calls, want each once", got)
	}
	other := &watched{raised: map[string]bool{}}
	if n := len(other.fresh(b.checkCall("delete", "read", nine, 1))); n != 1 {
		t.Fatalf("another session got %d signals for the new tool, want 1", n)
	}
	if n := len(w.fresh(b.checkCall("purge", "read", nine, 1))); n != 1 {
		t.Fatalf("a second new tool gave %d signals, want 1", n)
	}
}

// TestBaselineRoundTrip: a saved baseline reads back the same.
func TestBaselineRoundTrip(t *testing.T) {
	b := trained()
	raw, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	back := newBaseline("")
	if err := json.Unmarshal(raw, back); err != nil {
		t.Fatal(err)
	}
	again, _ := json.Marshal(back)
	if string(again) != string(raw) {
		t.Fatalf("round trip:\n%s\n%s", raw, again)
	}
}

// BenchmarkBaselineMemory measures an agent's baseline in memory: 40
// tools, 400 transitions, every hour and size bucket used, 4 argument
// shapes, a list and 2 numbers a tool (more than a typical agent's).
// bytes/agent is the heap it holds.
func BenchmarkBaselineMemory(b *testing.B) {
	o := newObservation("ops")
	for i := range 4000 {
		o.prev = fmt.Sprint("tool", (i/40)%10) // 10 × 40 transitions
		// 4 argument shapes a tool, a list and 2 numbers each.
		args := fmt.Sprintf(`{"to":["a","b"],"amount":%d,"limit":%d,"opt%d":true}`, i, i%7, i%4)
		o.add(fmt.Sprint("tool", i%40), toolArgs(args), nine.Add(time.Duration(i)*time.Minute), 1<<(i%40))
	}
	const agents = 100
	keep := make([]*Baseline, agents)
	var before, after runtime.MemStats
	b.ResetTimer()
	for range b.N {
		clear(keep)
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := range keep {
			keep[i] = newBaseline("ops")
			keep[i].merge(o)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
	}
	raw, _ := json.Marshal(keep[0])
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/agents, "bytes/agent")
	b.ReportMetric(float64(len(raw)), "stored-bytes/agent")
	b.ReportMetric(float64(len(keep[0].Transitions)), "transitions")
}

// trainedArgs is a baseline out of its learning period that learned send
// with amounts up to 100 to at most 2 recipients, and read without
// arguments.
func trainedArgs() *Baseline {
	var views []SessionView
	for i := range LearningSessions {
		views = append(views, recorded(fmt.Sprint("s", i), store.StateEnded, nine.Add(time.Duration(i)*time.Minute), 1000,
			`read{}`, `send{"amount":100,"to":["a","b"]}`, `send{"amount":-3,"to":["a"]}`))
	}
	return learnBaseline("ops", views)
}

func TestBaselineArgFindings(t *testing.T) {
	b := trainedArgs()
	if b.ArgsSessions != LearningSessions || len(b.Args["send"].Shapes) != 1 {
		t.Fatalf("learned arguments of %d sessions, send %+v", b.ArgsSessions, b.Args["send"])
	}
	many := func(n int) string { return `["` + strings.Repeat(`x","`, n-1) + `x"]` }
	cases := []struct {
		name, tool, args string
		want             string
		evidence         []string // in the evidence, besides the agent
	}{
		{"known shape", "send", `{"to":["c"],"amount":7}`, "", nil},
		{"no arguments, as learned", "read", `{}`, "", nil},
		{"null is no arguments", "read", `null`, "", nil},
		{"new argument", "send", `{"to":["c"],"amount":7,"cc":true}`, SignalNewArgumentShape,
			[]string{"{amount:number,cc:boolean,to:array}", "shapes seen: {amount:number,to:array}"}},
		{"new type", "send", `{"to":"c","amount":7}`, SignalNewArgumentShape, []string{"{amount:number,to:string}"}},
		{"arguments where none were", "read", `{"path":"/"}`, SignalNewArgumentShape, []string{"shapes seen: {(none)}"}},
		{"recipients at the floor", "send", `{"to":` + many(manyRecipientsMin) + `,"amount":1}`, "", nil},
		{"many recipients", "send", `{"to":` + many(manyRecipientsMin+1) + `,"amount":1}`, SignalManyRecipients,
			[]string{"11 elements in to", "most seen in 5 sessions was 2", "limit 10"}},
		{"amount at the floor", "send", `{"to":[],"amount":1000}`, "", nil},
		{"large amount", "send", `{"to":[],"amount":1000.5}`, SignalLargeAmount,
			[]string{"amount 1000.5", "largest seen in 5 sessions was 100", "limit 1000"}},
		{"large negative amount", "send", `{"to":[],"amount":-5000}`, SignalLargeAmount, []string{"amount 5000"}},
		{"both and a new shape", "send", `{"to":` + many(50) + `,"amount":1e6,"memo":"x"}`,
			SignalNewArgumentShape + "," + SignalManyRecipients + "," + SignalLargeAmount, nil},
		{"new tool: arguments never learned", "delete", `{"amount":1e9}`, "", nil},
		{"not an object", "send", `[1,2]`, "", nil},
		{"not JSON", "send", `{`, "", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			found := b.checkArgs(c.tool, toolArgs(c.args))
			var names []string
			for _, f := range found {
				names = append(names, f.name)
			}
			if strings.Join(names, ",") != c.want {
				t.Fatalf("signals %v, want %q: %+v", names, c.want, found)
			}
			if len(found) == 0 {
				return
			}
			for _, want := range append(c.evidence, "agent ops") {
				if !strings.Contains(found[0].evidence, want) {
					t.Errorf("evidence %q does not say %q", found[0].evidence, want)
				}
			}
		})
	}
}

// TestBaselineArgsOldSaved: a baseline saved before arguments were
// learned loads, gives no argument signal, and learns them from the next
// session on (its argument signals are then learning ones).
func TestBaselineArgsOldSaved(t *testing.T) {
	old := `{"agent":"ops","sessions":40,"calls":80,"tools":{"send":80},"transitions":{"send -> send":40},` +
		`"max_calls_per_minute":2,"result_sizes_log2":[],"hours_utc":[0,0,0,0,0,0,0,0,0,80,0,0,0,0,0,0,0,0,0,0,0,0,0,0],"updated":"2026-11-30T09:00:00Z"}`
	b := newBaseline("")
	if err := json.Unmarshal([]byte(old), b); err != nil {
		t.Fatal(err)
	}
	big := json.RawMessage(`{"amount":1e9,"to":["a"],"new":1}`)
	if found := b.checkArgs("send", toolArgs(string(big))); len(found) != 0 || b.Learning() {
		t.Fatalf("an old baseline gave %+v (learning %v); it learned no arguments", found, b.Learning())
	}
	o := newObservation("ops")
	o.add("send", toolArgs(`{"amount":5,"to":["a"]}`), nine, 10)
	b.merge(o)
	if b.ArgsSessions != 1 || b.Args["send"].MaxNumber["amount"] != 5 {
		t.Fatalf("after a session: %d argument sessions, send %+v", b.ArgsSessions, b.Args["send"])
	}
	if found := b.checkArgs("send", toolArgs(string(big))); len(found) != 2 {
		t.Fatalf("after learning: %+v, want new_argument_shape and large_amount", found)
	}
}

// TestBaselineArgSignalsOncePerSession: large_amount and many_recipients
// are raised once a session per tool and argument; new_argument_shape
// once per tool.
func TestBaselineArgSignalsOncePerSession(t *testing.T) {
	b := trainedArgs()
	w := &watched{raised: map[string]bool{}}
	var raised []string
	for _, args := range []string{
		`{"to":[],"amount":5000}`,
		`{"to":[],"amount":6000}`,
		`{"to":[],"amount":7000,"x":1}`,
		`{"to":[],"amount":8000,"y":1}`,
		`{"to":["1","2","3","4","5","6","7","8","9","10","11"],"amount":1}`,
		`{"to":["1","2","3","4","5","6","7","8","9","10","11","12"],"amount":1}`,
	} {
		for _, f := range w.fresh(b.checkArgs("send", toolArgs(args))) {
			raised = append(raised, f.key)
		}
	}
	want := "send.amount,send,send.to"
	if got := strings.Join(raised, ","); got != want {
		t.Fatalf("raised for %s, want %s", got, want)
	}
	other := &watched{raised: map[string]bool{}}
	if n := len(other.fresh(b.checkArgs("send", toolArgs(`{"to":[],"amount":5000}`)))); n != 1 {
		t.Fatalf("another session got %d signals for the large amount, want 1", n)
	}
}

// toolArgs is argsOf's reading of raw, nil when it is not an object.
func toolArgs(raw string) *ToolArgs {
	a, _ := argsOf(json.RawMessage(raw))
	return a
}

// BenchmarkBaselinePerCall is the baseline's work for one call that
// raises nothing, against a learned baseline: the call's checks, the
// session's observation of it, and its result's check.
func BenchmarkBaselinePerCall(b *testing.B) {
	o := newObservation("ops")
	for i := range 4000 {
		o.add("send", toolArgs(fmt.Sprintf(`{"to":["a","b"],"amount":%d}`, i%100)), nine.Add(time.Duration(i)*time.Second), 100)
	}
	base := newBaseline("ops")
	base.merge(o)
	raw := json.RawMessage(`{"to":["a","b"],"amount":42}`)
	live := newObservation("ops")
	at := nine.Add(time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		args, _ := argsOf(raw)
		found := base.checkCall("send", "send", at, 1)
		found = append(found, base.checkArgs("send", args)...)
		live.add("send", args, at, 100)
		if found = append(found, base.checkResult("send", 100)...); len(found) != 0 {
			b.Fatalf("found %+v", found)
		}
	}
}
