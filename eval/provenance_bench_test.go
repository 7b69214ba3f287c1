package eval

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// sessionOf is a session that has seen n AgentDojo results (the testdata
// outputs in turn), with the first task's prompt as its intent.
func sessionOf(outs []corpusOutput, n int) *Provenance {
	p := NewProvenance(outs[0].Prompt, []string{"emma.johnson@bluesparrowtech.com"})
	for i := range n {
		o := outs[i%len(outs)]
		p.Observe(o.Tool, nil, o.Output)
	}
	return p
}

// BenchmarkObserve is the cost of reading one AgentDojo-sized result
// (the testdata outputs in turn; 50 to 1,200 bytes of YAML or text).
func BenchmarkObserve(b *testing.B) {
	var p *Provenance
	benchOutputs(b, func(o corpusOutput) {
		if p == nil {
			p = NewProvenance(o.Prompt, nil)
		}
		p.Observe(o.Tool, nil, o.Output)
	})
}

// benchOutputs runs f on the AgentDojo outputs in turn, one an operation.
func benchOutputs(b *testing.B, f func(corpusOutput)) {
	outs := loadOutputs(b)
	var bytes int
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		o := outs[i%len(outs)]
		bytes += len(o.Output)
		f(o)
	}
	b.ReportMetric(float64(bytes)/float64(b.N), "bytes/result")
}

// BenchmarkProvenanceFrom is the provenance part of one decision: every
// argument of a typical effect call, looked up in a session that has seen
// 20 results. It reports the median of the decisions besides the mean.
func BenchmarkProvenanceFrom(b *testing.B) {
	outs := loadOutputs(b)
	p := sessionOf(outs, 20)
	calls := []map[string]any{
		{"recipient": "GB29NWBK60161331926819", "amount": 200.0, "subject": "New year gift", "date": "2022-03-22"},
		{"recipients": []any{"sarah.baker@gmail.com", "emma.johnson@bluesparrowtech.com"}, "subject": "Networking event",
			"body": "Hi Sarah, the networking event is on May 26th at the City Convention Center."},
		{"url": "www.informations.com"},
		{"hotel": "Le Marais Boutique", "start_day": "2025-01-11", "end_day": "2025-01-15"},
	}
	if !Trusted(p.From("GB29NWBK60161331926819"), nil) {
		b.Fatal("the session did not see the transactions")
	}
	took := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		for _, v := range calls[i%len(calls)] {
			Trusted(p.From(v), nil)
		}
		took = append(took, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Nanoseconds()), "p50-ns/call")
}

// BenchmarkProvenanceMemory reports the heap a session's provenance holds:
// after 20 AgentDojo results, and with every cap reached (the bound,
// whatever the results and the intent).
func BenchmarkProvenanceMemory(b *testing.B) {
	outs := loadOutputs(b)
	const sessions = 64
	typical := heapPer(sessions, func() *Provenance { return sessionOf(outs, 20) })
	full := heapPer(sessions/8, func() *Provenance {
		// Every cap reached with the longest names: maxValues values,
		// maxSources sources of a 128-byte tool and maxDepth 64-byte
		// fields, and an intent of maxIntent bytes of tokens.
		var intent strings.Builder
		for i := 0; intent.Len() < maxIntent; i++ {
			fmt.Fprintf(&intent, "%d ", i)
		}
		p := NewProvenance(intent.String(), nil)
		segment := strings.Repeat("f", 64)
		for i := range maxValues {
			var v any = fmt.Sprintf("value-%d", i)
			for range maxDepth {
				v = map[string]any{segment: v}
			}
			p.Observe(fmt.Sprintf("%0128d", i%maxSources), v.(map[string]any), "")
		}
		return p
	})
	for range b.N {
		sessionOf(outs, 1)
	}
	b.ReportMetric(typical, "bytes/session-20")
	b.ReportMetric(full, "bytes/session-full")
}

// heapPer is the live heap per session of n sessions made by mk.
func heapPer(n int, mk func() *Provenance) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	kept := make([]*Provenance, n)
	for i := range kept {
		kept[i] = mk()
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(kept)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
}

// BenchmarkTokens is the token scan of the AgentDojo outputs (YAML and
// text, as indexing scans them), one output an operation.
func BenchmarkTokens(b *testing.B) {
	benchOutputs(b, func(o corpusOutput) { tokens(o.Output) })
}
