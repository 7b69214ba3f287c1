package supervisor

import (
	"bytes"
	"encoding/json"
	"runtime"
	"testing"
)

// corpusRepeats is how many times one benchmark operation replays the
// AgentDojo benign corpus: a history of 970 sessions, 3,390 calls.
const corpusRepeats = 10

// BenchmarkReplayAgentDojo replays the AgentDojo benign corpus (the 97
// tasks, each against its agent's example workflow) repeated, one session
// at a time, and reports calls per second. The goal is 100k calls/s.
func BenchmarkReplayAgentDojo(b *testing.B) { benchReplay(b, 1, corpusRepeats) }

// BenchmarkReplayAgentDojoOnce is BenchmarkReplayAgentDojo of the corpus
// once, not repeated: a replay shares the parse of a result text seen
// before, and the repeats would see nothing but texts seen before.
func BenchmarkReplayAgentDojoOnce(b *testing.B) { benchReplay(b, 1, 1) }

// BenchmarkReplayAgentDojoParallel is BenchmarkReplayAgentDojo with
// sessions replayed on every core (GOMAXPROCS), as warden replay does.
func BenchmarkReplayAgentDojoParallel(b *testing.B) {
	benchReplay(b, runtime.GOMAXPROCS(0), corpusRepeats)
}

// benchReplay replays the corpus repeated, workers sessions at a time;
// reading the traces is part of the replay, as it is in warden replay.
func benchReplay(b *testing.B, workers, repeats int) {
	byAgent := map[string]*bytes.Buffer{}
	for _, line := range bytes.SplitAfter(agentdojoTraces(b), []byte("\n")) {
		var tr struct{ Agent string }
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if err := json.Unmarshal(line, &tr); err != nil {
			b.Fatal(err)
		}
		if byAgent[tr.Agent] == nil {
			byAgent[tr.Agent] = &bytes.Buffer{}
		}
		byAgent[tr.Agent].Write(line)
	}
	policies := map[string]*Policy{}
	traces := map[string][]byte{}
	for _, a := range agentdojoAgents {
		policies[a] = examplePolicy(b, a, nil)
		traces[a] = bytes.Repeat(byAgent[a].Bytes(), repeats)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	calls := 0
	for b.Loop() {
		for _, a := range agentdojoAgents {
			_, sum, err := Replay(policies[a], bytes.NewReader(traces[a]), ReplayOptions{Agent: a, Workers: workers})
			if err != nil {
				b.Fatal(err)
			}
			calls += sum.Calls
		}
	}
	b.ReportMetric(float64(calls)/b.Elapsed().Seconds(), "calls/s")
	// CPU time says what the replay costs on a machine that other work
	// shares, where wall time says little; it counts every core's work.
	if cpu := (cpuTime() - cpu0).Seconds(); cpu > 0 {
		b.ReportMetric(float64(calls)/cpu, "calls/cpu-s")
		b.ReportMetric(cpu/float64(calls)*100_000, "cpu-s/100k-calls")
	}
}
