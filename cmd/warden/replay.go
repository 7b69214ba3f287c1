package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/warden-dev/warden"
	"github.com/warden-dev/warden/config"
	"github.com/warden-dev/warden/eval"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
	"github.com/warden-dev/warden/workflows"
)

type replayCmd struct {
	Traces         string `help:"JSONL traces, one session a line: {\"id\",\"agent\",\"started\",\"calls\":[{\"tool\",\"args\",\"output\",\"at\"}]} (started and at, RFC 3339, optional)." type:"existingfile" xor:"input"`
	DB             string `help:"Replay the sessions recorded in this bbolt history file." type:"existingfile" xor:"input"`
	Workflow       string `help:"The workflow to replay against." type:"existingfile" xor:"policy"`
	Rules          string `help:"Global rules to add to --workflow." type:"existingfile"`
	Config         string `short:"c" help:"Take the policy (and, without --traces or --db, the history) from this configuration; needs --agent." type:"existingfile" xor:"policy"`
	Agent          string `help:"Replay only this agent's sessions; with --config, whose policy to use."`
	PromptAsIntent bool   `name:"prompt-as-intent" help:"Declare each trace's prompt (a corpus's task prompt, as in AgentDojo's tasks.jsonl) as its session's intent."`
	Since          string `help:"Recorded sessions started at or after: RFC 3339 time or a duration back (24h)."`
	Until          string `help:"Recorded sessions started before."`

	ApproveStepUps bool `help:"Replay as if every step-up had been approved."`
	JSON           bool `help:"One JSON object per input session, in input order."`
	Workers        int  `help:"Sessions replayed at once. Default: one per CPU (GOMAXPROCS); one at a time with --judge."`

	Judge          string `help:"Ask the judge at this OpenAI-compatible API (base URL: https, or http on loopback) instead of reusing the judgements recorded on the chain." placeholder:"URL"`
	JudgeModel     string `help:"The model --judge asks. Default: with --config, the agent's judge.model."`
	JudgeKeyEnv    string `help:"The variable holding --judge's API key. Default: none (a configured key is never sent to another endpoint)." placeholder:"VAR"`
	JudgePerMinute int    `help:"--judge's budget of model calls per minute; calls beyond it keep their verdict. Default: with --config, the agent's judge.per_minute, else 60."`

	maxDelay time.Duration // with --config, its throttle.max_delay
}

func (c *replayCmd) Run(g *cli) error {
	pol, configured, err := c.policy()
	if err != nil {
		return err
	}
	judge, bounds, err := c.judge(configured)
	if err != nil {
		return err
	}
	src, err := c.input()
	if err != nil {
		return err
	}
	defer src.close()
	if c.Workers < 0 {
		return fmt.Errorf("--workers must be positive, got %d", c.Workers)
	}
	workers := c.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if judge != nil {
		workers = 1 // the judge's budget is spent in the record's order
	}
	// Each session is written out as soon as it is replayed, so that a
	// history of any length is replayed in bounded memory.
	report := &replayReport{w: g.stdout()}
	emit := report.session
	var encode func(supervisor.ReplayedSession) ([]byte, error)
	flush := func() error { return nil }
	if c.JSON {
		// Each session is encoded on the worker that replayed it; the one
		// writer only copies the lines out in order.
		encode = encodeReplayed
		out := bufio.NewWriterSize(g.stdout(), 64<<10)
		// The sessions written before an error are flushed too; on
		// success a failed flush is the replay's error.
		defer out.Flush()
		flush = out.Flush
		emit = func(s supervisor.ReplayedSession, _ []string) error {
			_, err := out.Write(s.Encoded)
			return err
		}
	}
	defer replayGC(os.Getenv)()
	began := time.Now()
	next := src.next
	if src.deferred != nil {
		next = src.deferred
	}
	sum, err := supervisor.ReplayStream(pol, next, supervisor.ReplayOptions{ApproveStepUps: c.ApproveStepUps, Agent: c.Agent,
		PromptAsIntent: c.PromptAsIntent, Judge: judge, JudgeBounds: bounds, Workers: workers, MaxDelay: c.maxDelay, Encode: encode},
		func(s supervisor.ReplayedSession) error { return emit(s, src.recorded(s.ID)) })
	if err != nil {
		return err
	}
	took := time.Since(began)
	if c.JSON {
		return flush()
	}
	report.totals(sum)
	printReplayClock(g.stdout(), sum)
	printThroughput(g.stdout(), sum.Calls, took, workers)
	return nil
}

// encodeReplayed is a session's line of warden replay --json: what
// json.Encoder.Encode writes.
func encodeReplayed(s supervisor.ReplayedSession) ([]byte, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// replayGCPercent is the garbage collector's pace during a replay: the
// heap may grow to five times what is live. A replay streams its input, so
// little is live, and at Go's default (100) the collector ran so often that
// the replay of 100k workspace calls took 7.0-7.3 CPU-seconds instead of
// 5.0-5.6 (peak RSS 57-85 MB instead of 37-41). 800 was tried: over the
// four AgentDojo agents no cheaper than 400 beyond the noise (0-5%), for
// 1.6 times the peak RSS.
const replayGCPercent = 400

// replayMemoryLimit is the heap a replay's pace may grow to before the
// collector runs anyway, so that a history whose live heap is large (a
// session of many big results) does not take five times that.
const replayMemoryLimit = 512 << 20

// replayGC sets the collector's pace and ceiling for a replay unless GOGC
// and GOMEMLIMIT (read with getenv) set them, and returns what puts them
// back.
func replayGC(getenv func(string) string) func() {
	restore := []func(){}
	if getenv("GOGC") == "" {
		was := debug.SetGCPercent(replayGCPercent)
		restore = append(restore, func() { debug.SetGCPercent(was) })
	}
	if getenv("GOMEMLIMIT") == "" {
		was := debug.SetMemoryLimit(replayMemoryLimit)
		restore = append(restore, func() { debug.SetMemoryLimit(was) })
	}
	return func() {
		for _, f := range restore {
			f()
		}
	}
}

// printReplayClock says whether verdicts depend on when calls were made,
// and whether the replay used the recorded times.
func printReplayClock(w io.Writer, sum supervisor.Summary) {
	if len(sum.TimeDependent) == 0 {
		fmt.Fprintln(w, "time: nothing in the policy reads the clock")
		return
	}
	fmt.Fprintf(w, "time: the policy decides by the clock (%s); %d of %d calls replayed at their recorded times",
		strings.Join(sum.TimeDependent, "; "), sum.AtRecordedTimes, sum.Calls)
	if rest := sum.Calls - sum.AtRecordedTimes; rest > 0 {
		fmt.Fprintf(w, ", %d with no recorded time on a clock of one call a second, so their verdicts may differ from live", rest)
	}
	fmt.Fprintln(w)
}

// printThroughput reports how fast the calls were read and replayed.
func printThroughput(w io.Writer, calls int, took time.Duration, workers int) {
	rate := 0.0
	if took > 0 {
		rate = float64(calls) / took.Seconds()
	}
	fmt.Fprintf(w, "replayed %d calls in %.3fs: %.0f calls/s, %d sessions at a time\n", calls, took.Seconds(), rate, workers)
}

// policy is the policy to replay against, and with --config the agent's
// judge section (nil for none).
func (c *replayCmd) policy() (*supervisor.Policy, *config.Judge, error) {
	switch {
	case c.Workflow != "":
		wf, err := workflows.Load(c.Workflow)
		if err != nil {
			return nil, nil, exitError{code: 2, msg: "invalid workflow:\n" + err.Error()}
		}
		p := &supervisor.Policy{Workflow: wf}
		if c.Rules != "" {
			data, err := os.ReadFile(c.Rules)
			if err == nil {
				p.Rules, err = eval.LoadRules(c.Rules, data)
			}
			if err != nil {
				return nil, nil, exitError{code: 2, msg: "invalid rules:\n" + err.Error()}
			}
		}
		return p, nil, nil
	case c.Config != "":
		if c.Agent == "" {
			return nil, nil, errors.New("--config needs --agent: whose policy to replay against")
		}
		cfg, err := loadConfig(c.Config)
		if err != nil {
			return nil, nil, err
		}
		c.maxDelay = cfg.Throttle.MaxDelay
		if c.maxDelay == 0 {
			c.maxDelay = time.Nanosecond // "0s": refused rather than held, as live
		}
		ps, _, err := loadPolicies(cfg)
		if err != nil {
			return nil, nil, exitError{code: 2, msg: "invalid policy:\n" + err.Error()}
		}
		p, ok := ps[c.Agent]
		if !ok {
			return nil, nil, fmt.Errorf("no agent %q in %s", c.Agent, cfg.File)
		}
		for _, a := range cfg.Agents {
			if a.Name == c.Agent {
				return p, a.Judge, nil
			}
		}
		return p, nil, nil
	}
	return nil, nil, errors.New("say what to replay against: --workflow FILE, or --config FILE --agent NAME")
}

// judge is the judge --judge points the replay at, with the model, limits
// and bounds of the agent's judge section (configured, nil for none) where
// the flags give none; nil without --judge, when the replay reuses the
// judgements recorded on the chain.
func (c *replayCmd) judge(configured *config.Judge) (*eval.Judge, eval.Bounds, error) {
	if c.Judge == "" {
		if c.JudgeModel != "" || c.JudgeKeyEnv != "" || c.JudgePerMinute != 0 {
			return nil, eval.Bounds{}, errors.New("--judge-model, --judge-key-env and --judge-per-minute need --judge URL")
		}
		return nil, eval.Bounds{}, nil
	}
	if err := config.CheckJudgeEndpoint(c.Judge); err != nil {
		return nil, eval.Bounds{}, fmt.Errorf("--judge: %w", err)
	}
	if c.JudgePerMinute < 0 {
		return nil, eval.Bounds{}, fmt.Errorf("--judge-per-minute must be positive, got %d", c.JudgePerMinute)
	}
	j := config.Judge{MayClear: true, MayRaise: true} // zero limits: the judge's defaults
	if configured != nil {
		j = *configured
	}
	// The configured key belongs to the configured endpoint.
	j.Endpoint, j.KeyEnv = c.Judge, c.JudgeKeyEnv
	if c.JudgeModel != "" {
		j.Model = c.JudgeModel
	}
	if c.JudgePerMinute > 0 {
		j.PerMinute = c.JudgePerMinute
	}
	if j.Model == "" {
		return nil, eval.Bounds{}, errors.New("--judge needs --judge-model (or --config with an agent whose judge names a model)")
	}
	judge, bounds, err := judgeOf(&j, os.Getenv)
	if err != nil {
		return nil, eval.Bounds{}, fmt.Errorf("--judge: %w", err)
	}
	return judge, bounds, nil
}

// replaySource hands out the sessions to replay one at a time, and the
// verdicts each was given when recorded (none for traces that carry none).
type replaySource struct {
	next func() (supervisor.Trace, error)
	// deferred, if set, is next leaving the decoding to the replay's
	// workers (supervisor.TraceReader.Deferred).
	deferred func() (supervisor.Trace, error)
	close    func()
	// verdicts, by session id until its replay is written: the reader
	// adds them while the writer, on another goroutine, takes them.
	mu       sync.Mutex
	verdicts map[string][]string
}

// recorded is the verdicts session id was recorded with, forgotten once
// asked for: the session has been replayed.
func (s *replaySource) recorded(id string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.verdicts[id]
	delete(s.verdicts, id)
	return v
}

// input opens the sessions to replay: a traces file read a line at a
// time, or a history read a session at a time.
func (c *replayCmd) input() (*replaySource, error) {
	if c.Traces != "" {
		f, err := os.Open(c.Traces)
		if err != nil {
			return nil, err
		}
		rd := supervisor.NewTraceReader(f)
		return &replaySource{next: rd.Next, deferred: rd.Deferred, close: func() { f.Close() }}, nil
	}
	where := historyFlags{DB: c.DB, AdminTokenEnv: "WARDEN_ADMIN_TOKEN"}
	if c.DB == "" {
		if c.Config == "" {
			return nil, errors.New("say what to replay: --traces FILE, --db FILE, or --config FILE")
		}
		// The configuration's history: its file, or warden's admin API
		// when warden is running and holds the file.
		where.Config = c.Config
	}
	h, err := where.open()
	if err != nil {
		return nil, err
	}
	f, err := supervisor.ParseFilter(c.Agent, "", c.Since, c.Until, "")
	if err == nil {
		var list []store.Session
		list, err = h.Sessions(context.Background(), f)
		if err == nil {
			sort.Slice(list, func(i, j int) bool { return list[i].Started.Before(list[j].Started) })
			src := &replaySource{verdicts: map[string][]string{}, close: func() { h.Close() }}
			src.next = func() (supervisor.Trace, error) {
				if len(list) == 0 {
					return supervisor.Trace{}, io.EOF
				}
				v, err := h.Session(context.Background(), list[0].ID)
				if err != nil {
					return supervisor.Trace{}, err
				}
				list = list[1:]
				tr, verdicts := traceOf(v)
				src.mu.Lock()
				src.verdicts[tr.ID] = verdicts
				src.mu.Unlock()
				return tr, nil
			}
			return src, nil
		}
	}
	h.Close()
	return nil, err
}

// traces reads every session input would hand out, for warden learn,
// which looks at them all together.
func (c *replayCmd) traces() ([]supervisor.Trace, error) {
	src, err := c.input()
	if err != nil {
		return nil, err
	}
	defer src.close()
	var out []supervisor.Trace
	for {
		tr, err := src.next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, tr)
	}
}

// traceOf turns a recorded session into a trace: its calls, with the
// results warden kept, and the verdicts they got.
func traceOf(v supervisor.SessionView) (supervisor.Trace, []string) {
	started := v.Session.Started
	tr := supervisor.Trace{ID: v.Session.ID, Agent: v.Session.Agent, Started: &started}
	var verdicts []string
	var describe string
	byCall := map[string]int{}
	for _, e := range v.Events {
		switch e.Kind {
		case store.KindSessionStart, store.KindIntent:
			// The request declared last before the calls replayed stands
			// for the session (a trace has one intent).
			if r := recordedIntent(e); r != "" && len(tr.Calls) == 0 {
				tr.Intent = r
			}
		case store.KindSignal:
			if sig, ok := recordedSignal(e); ok {
				tr.Signals = append(tr.Signals, supervisor.TraceSignal{Before: len(tr.Calls), Signal: sig})
			}
		case store.KindJudgement:
			var rec supervisor.JudgementRecord
			if json.Unmarshal(e.Data, &rec) == nil {
				tr.Judgements = append(tr.Judgements, rec.Judgement)
				describe = rec.Call.Description // the call's own event follows
			}
		case store.KindCall, store.KindResourceRead, store.KindPromptGet:
			var args map[string]any
			_ = json.Unmarshal(e.Args, &args)
			byCall[e.CallID] = len(tr.Calls)
			at := e.Time
			tr.Calls = append(tr.Calls, supervisor.TraceCall{Kind: routeKind(e.Kind), Tool: e.Tool, Args: args, Description: describe, At: &at})
			describe = ""
			verdicts = append(verdicts, e.Verdict)
		case store.KindResult:
			i, ok := byCall[e.CallID]
			if !ok {
				continue
			}
			var rec supervisor.ResultRecord
			// A result kept only as a digest has no content to replay.
			if json.Unmarshal(e.Data, &rec) == nil && rec.SHA256 == "" {
				text := rec.Text
				tr.Calls[i].Output, tr.Calls[i].Structured = &text, rec.Structured
			}
			if e.Verdict != "" && e.Verdict != "allow" {
				verdicts[i] = maxVerdict(verdicts[i], e.Verdict)
			}
		}
	}
	return tr, verdicts
}

// routeKind is the kind a trace gives a recorded call of this event kind.
func routeKind(event string) string {
	switch event {
	case store.KindResourceRead:
		return workflows.KindResource
	case store.KindPromptGet:
		return workflows.KindPrompt
	}
	return ""
}

func maxVerdict(a, b string) string {
	va, erra := warden.ParseVerdict(a)
	vb, errb := warden.ParseVerdict(b)
	if erra != nil || errb != nil {
		return a
	}
	return warden.Max(va, vb).String()
}

// replayReport writes the readable report a session at a time: the
// sessions whose verdicts differ from what was recorded, then the totals.
type replayReport struct {
	w       io.Writer
	changed int // sessions decided differently
}

// session writes s if its verdicts differ from was, those it was recorded
// with (for traces without verdicts, allow).
func (r *replayReport) session(s supervisor.ReplayedSession, was []string) error {
	var lines []string
	for i, c := range s.Calls {
		before := "allow"
		if i < len(was) && was[i] != "" {
			before = was[i]
		}
		if c.Verdict.String() == before {
			continue
		}
		lines = append(lines, fmt.Sprintf("  call %d %s: %s → %s  %s", i+1, c.Tool, before, c.Verdict, strings.Join(c.Reasons, "; ")))
	}
	if len(lines) == 0 {
		return nil
	}
	r.changed++
	agent := s.Agent
	if agent == "" {
		agent = "-"
	}
	_, err := fmt.Fprintf(r.w, "session %s (agent %s): %d of %d calls decided differently\n%s\n\n", s.ID, agent, len(lines), len(s.Calls), strings.Join(lines, "\n"))
	return err
}

// totals ends the report: how many sessions were decided differently, and
// the calls and sessions by verdict.
func (r *replayReport) totals(sum supervisor.Summary) {
	w := r.w
	fmt.Fprintf(w, "%d sessions, %d calls replayed; %d sessions decided differently", sum.Sessions, sum.Calls, r.changed)
	if sum.Skipped > 0 {
		fmt.Fprintf(w, "; %d sessions of other agents skipped", sum.Skipped)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%-8s %8s %9s\n", "verdict", "calls", "sessions")
	for v := warden.Allow; v <= warden.Kill; v++ {
		fmt.Fprintf(w, "%-8s %8d %9d\n", v, sum.ByCall[v], sum.BySess[v])
	}
}

// recordedIntent is the user's request an event records: a session_start's
// declared intent, or an intent event's.
func recordedIntent(e store.Event) string {
	var in struct {
		Request string `json:"request"`
		Intent  *struct {
			Request string `json:"request"`
		} `json:"intent"`
	}
	if json.Unmarshal(e.Data, &in) != nil {
		return ""
	}
	if e.Kind == store.KindSessionStart {
		if in.Intent == nil {
			return ""
		}
		return in.Intent.Request
	}
	return in.Request
}

// recordedSignal is the signal a signal event records, if it does.
func recordedSignal(e store.Event) (workflows.Signal, bool) {
	var d struct {
		Signal *workflows.Signal `json:"signal"`
	}
	if json.Unmarshal(e.Data, &d) != nil || d.Signal == nil {
		return workflows.Signal{}, false
	}
	return *d.Signal, true
}
