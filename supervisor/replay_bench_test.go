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
func BenchmarkReplayAgentDojo(b *testing.B) { benchReplay(b, 1) }

// BenchmarkReplayAgentDojoParallel is BenchmarkReplayAgentDojo with
// sessions replayed on every core (GOMAXPROCS), as warden replay does.
func BenchmarkReplayAgentDojoParallel(b *testing.B) { benchReplay(b, runtime.GOMAXPROCS(0)) }

// benchReplay replays the corpus repeated, workers sessions at a time;
// reading the traces is part of the replay, as it is in warden replay.
func benchReplay(b *testing.B, workers int) {
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
		traces[a] = bytes.Repeat(byAgent[a].Bytes(), corpusRepeats)
	}
	b.ReportAllocs()
	b.ResetTimer()
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
}
