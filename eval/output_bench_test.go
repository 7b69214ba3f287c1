package eval

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// corpusTasks is the supervisor's copy of the AgentDojo benign corpus, whose
// 339 results are more than testdata/provenance's sample.
const corpusTasks = "../supervisor/testdata/agentdojo/tasks.jsonl"

// corpusResults is the text of every result of the corpus's calls.
func corpusResults(b *testing.B) []string {
	b.Helper()
	f, err := os.Open(corpusTasks)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var task struct {
			Calls []struct {
				Output *string `json:"output"`
			} `json:"calls"`
		}
		if err := json.Unmarshal(sc.Bytes(), &task); err != nil {
			b.Fatalf("%s: %v", corpusTasks, err)
		}
		for _, c := range task.Calls {
			if c.Output != nil {
				out = append(out, *c.Output)
			}
		}
	}
	if err := sc.Err(); err != nil {
		b.Fatal(err)
	}
	return out
}

// BenchmarkParseOutput is the cost of parsing one AgentDojo result, by
// what the result is (the corpus's results: JSON, YAML, or text that YAML
// reads as a scalar), one result an operation.
func BenchmarkParseOutput(b *testing.B) {
	kinds := map[string][]string{}
	for _, o := range corpusResults(b) {
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
