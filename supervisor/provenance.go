package supervisor

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/warden-dev/warden"
	"github.com/warden-dev/warden/eval"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/workflows"
)

// sessionProvenance is where the values a session could reuse came from:
// its declared intent and every result it was handed (see eval.Provenance).
// Results arrive while other calls of the session are decided, so it has
// a lock of its own.
type sessionProvenance struct {
	mu sync.Mutex
	p  *eval.Provenance
}

func newSessionProvenance(in *workflows.Intent, config []string) *sessionProvenance {
	return &sessionProvenance{p: eval.NewProvenance(intentWords(in), config)}
}

// intentWords is the text of an intent whose values count as the user's:
// the request and the values it names.
func intentWords(in *workflows.Intent) string {
	if in == nil {
		return ""
	}
	parts := append([]string{in.Request}, in.Recipients...)
	for _, a := range in.Amounts {
		parts = append(parts, fmt.Sprint(a))
	}
	return strings.Join(parts, "\n")
}

// From and Tokens make it the workflow's Provenance.
func (sp *sessionProvenance) From(v any) []string {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return sp.p.From(v)
}

func (sp *sessionProvenance) Tokens(text string) []string {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return sp.p.Tokens(text)
}

// observe records a result the agent was handed; parsed is the policy's
// parse of it (Decision.Parsed), nil for none.
func (sp *sessionProvenance) observe(tool string, structured any, text string, parsed any) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	sp.p.ObserveParsed(tool, structured, text, parsed)
}

// setIntent replaces the intent's values (the task changed).
func (sp *sessionProvenance) setIntent(in *workflows.Intent) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	sp.p.SetIntent(intentWords(in))
}

// ofArgs is each argument's provenance, by path, for approvers and the
// judge: the sources of every value in it ("" for a value from nowhere).
func (sp *sessionProvenance) ofArgs(args map[string]any) map[string][]string {
	return provenanceOfArgs(sp, args)
}

// provenanceOfArgs is each argument's sources under p.
func provenanceOfArgs(p workflows.Provenance, args map[string]any) map[string][]string {
	out := make(map[string][]string, len(args))
	for k, v := range args {
		srcs := p.From(v)
		if srcs == nil {
			srcs = []string{}
		}
		out[k] = srcs
	}
	return out
}

var _ workflows.Provenance = (*sessionProvenance)(nil)

// provenance is the session's provenance for the call's decision, nil
// when nothing reads it (indexing results has a cost): the workflow or
// the rules read where values came from, or the agent has a judge.
func (c *call) provenance() workflows.Provenance {
	if c.sess.prov == nil || !c.pol.tracksProvenance() && c.sess.current().Judge == nil {
		return nil
	}
	return c.sess.prov
}

// tracksProvenance reports whether the policy reads where values came from.
func (p *Policy) tracksProvenance() bool {
	if p.Workflow.TracksProvenance() {
		return true
	}
	for _, r := range p.Rules {
		if strings.Contains(r.When, "from(") || strings.Contains(r.When, "sources(") {
			return true
		}
	}
	return false
}

// provenanceOnRecord rebuilds a resumed session's provenance from its
// history: its declared intents and the results it was handed, in order.
// A result kept only as a digest gives nothing.
func provenanceOnRecord(evs []store.Event, config []string) *sessionProvenance {
	sp := newSessionProvenance(nil, config)
	for _, e := range evs {
		switch e.Kind {
		case store.KindSessionStart:
			var start struct {
				Intent *workflows.Intent `json:"intent"`
			}
			if json.Unmarshal(e.Data, &start) == nil && start.Intent != nil {
				sp.setIntent(start.Intent)
			}
		case store.KindIntent:
			var in workflows.Intent
			if json.Unmarshal(e.Data, &in) == nil {
				sp.setIntent(&in)
			}
		case store.KindResult:
			var rec ResultRecord
			if json.Unmarshal(e.Data, &rec) == nil && rec.SHA256 == "" && !rec.Withheld && e.Verdict != "" {
				if v, err := warden.ParseVerdict(e.Verdict); err == nil && v <= warden.Flag {
					sp.observe(e.Tool, rec.Structured, rec.Text, nil)
				}
			}
		}
	}
	return sp
}

// argsProvenance is where each argument of the call came from, for
// approvers; nil when provenance is not tracked.
func (c *call) argsProvenance() map[string][]string {
	if c.wf.Provenance == nil {
		return nil
	}
	return c.sess.prov.ofArgs(c.wf.Args)
}
