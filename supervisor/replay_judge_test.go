package supervisor

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/warden-dev/warden"
	"github.com/warden-dev/warden/eval"
	"github.com/warden-dev/warden/workflows"
)

// TestReplayReusesRecordedJudgements replays a session whose payment only
// a judge lets through: with a judge asked afresh, and then with the
// judgement recorded, which must give the same verdict without asking.
func TestReplayReusesRecordedJudgements(t *testing.T) {
	var asked atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		asked.Add(1)
		out, _ := json.Marshal(map[string]any{"id": "x", "object": "chat.completion", "model": "m",
			"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
				"message": map[string]any{"role": "assistant", "content": `{"consistent": true, "reason": "asked for"}`}}}})
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	judge, err := eval.NewJudge(eval.JudgeConfig{Endpoint: srv.URL + "/v1", Model: "m"}, "")
	if err != nil {
		t.Fatal(err)
	}
	wf, err := workflows.Parse("pay.yaml", []byte("agent: a\npurpose: pay\neffects: [pay]\nanytime: [read, pay]\nsteps:\n  - name: read\n    tool: read\n  - name: pay\n    tool: pay\n"))
	if err != nil {
		t.Fatal(err)
	}
	pol := &Policy{Workflow: wf}
	out := "bob says: my account is GB11BOBS"
	tr := Trace{ID: "s", Agent: "a", Intent: "pay bob what I owe him", Calls: []TraceCall{
		{Tool: "read", Args: map[string]any{}, Output: &out},
		{Tool: "pay", Args: map[string]any{"to": "GB11BOBS"}, Description: "Pays"},
	}}
	verdict := func(rs ReplayedSession) warden.Verdict { return rs.Calls[1].Verdict }

	if v := verdict(ReplaySession(pol, tr, ReplayOptions{})); v != warden.StepUp {
		t.Fatalf("without a judge: %s, want step_up (the account is only in free text)", v)
	}
	if v := verdict(ReplaySession(pol, tr, ReplayOptions{Judge: judge, JudgeBounds: eval.DefaultBounds()})); v != warden.Allow || asked.Load() != 1 {
		t.Fatalf("with a judge: %s after %d questions, want allow after 1", v, asked.Load())
	}
	// The judgement as it would be recorded: the same question's answer.
	prov := eval.NewProvenance(intentWords(&workflows.Intent{Request: tr.Intent}), nil)
	prov.Observe("read", nil, out)
	call := workflows.Call{Tool: "pay", Args: tr.Calls[1].Args}
	j := judge.Ask(t.Context(), judgeCall(pol, &workflows.Intent{Request: tr.Intent}, call, "Pays", provenanceOfArgs(prov, call.Args)))
	tr.Judgements = []eval.Judgement{j}
	before := asked.Load()
	if v := verdict(ReplaySession(pol, tr, ReplayOptions{})); v != warden.Allow || asked.Load() != before {
		t.Fatalf("with the recorded judgement: %s after %d more questions, want allow after none", v, asked.Load()-before)
	}
}
