package eval

import (
	"strings"
	"testing"
)

// corpusTasks is the supervisor's copy of the AgentDojo benign corpus, whose
// 339 results are more than testdata/provenance's sample.
const corpusTasks = "../supervisor/testdata/agentdojo/tasks.jsonl"

// BenchmarkParseOutput is the cost of parsing one AgentDojo result, by
// what the result is (the corpus's results: JSON, YAML, or text that YAML
// reads as a scalar), one result an operation.
func BenchmarkParseOutput(b *testing.B) {
	kinds := map[string][]string{}
	for _, o := range corpusOutputs(b) {
		k := "yaml"
		switch t := strings.TrimSpace(o); {
		case strings.HasPrefix(t, "{") || strings.HasPrefix(t, "["):
			k = "json"
		default:
			switch ParseOutput(o, nil).(type) {
			case map[string]any, []any:
			default:
				k = "text"
			}
		}
		kinds[k] = append(kinds[k], o)
	}
	for _, k := range []string{"json", "yaml", "text"} {
		b.Run(k, func(b *testing.B) {
			outs := kinds[k]
			if len(outs) == 0 {
				b.Skip("no such output in the corpus")
			}
			bytes := 0
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				o := outs[i%len(outs)]
				bytes += len(o)
				ParseOutput(o, nil)
			}
			b.ReportMetric(float64(bytes)/float64(b.N), "bytes/result")
			b.ReportMetric(float64(len(outs)), "results")
		})
	}
}
