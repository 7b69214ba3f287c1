package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/warden-dev/warden"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/workflows"
)

// completion/complete is a route to an upstream like prompts/get: the
// agent sends an argument's value, the upstream answers with what it
// holds. The example workflow kills a session that names the secrets
// folder to summarize_file or reads kb://files/secrets/...; completing
// that same argument with "secrets/", of the prompt or of the template,
// is decided by that rule (the upstream is not asked), and is on record.
func TestCompletionIsDecidedAndRecorded(t *testing.T) {
	for _, tc := range []struct {
		name string
		ref  any
	}{
		{"prompt", mcp.PromptReference{Type: "ref/prompt", Name: "summarize_file"}},
		{"template", mcp.ResourceReference{Type: "ref/resource", URI: "kb://files/{+path}"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := routesWarden(t, "")
			c := connect(t, w.URL, supportToken)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			req := mcp.CompleteRequest{}
			req.Params.Ref = tc.ref
			req.Params.Argument = mcp.CompleteArgument{Name: "path", Value: "secrets/"}
			res, err := c.Complete(ctx, req)
			if err == nil {
				t.Fatalf("completion of path with %q answered %v", "secrets/", res.Completion.Values)
			}
			if !strings.Contains(err.Error(), "kill") {
				t.Errorf("refusal %q does not say the session was killed", err)
			}
			sid := c.GetSessionId()
			if ev := verdictOf(t, w, sid, store.KindCompletion, "secrets/"); ev.Verdict != warden.Kill.String() || ev.Upstream != "desk" {
				t.Errorf("completion recorded as %q at %q, want kill at desk", ev.Verdict, ev.Upstream)
			}
			verdictOf(t, w, sid, store.KindKill, "")
		})
	}
}

// An allowed completion is answered, on record with its result, and takes
// no step: the workflow's call count does not move.
func TestCompletionAllowedIsRecordedWithResult(t *testing.T) {
	w := routesWarden(t, "")
	c := connect(t, w.URL, supportToken)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	req := mcp.CompleteRequest{}
	req.Params.Ref = mcp.ResourceReference{Type: "ref/resource", URI: "kb://files/{+path}"}
	req.Params.Argument = mcp.CompleteArgument{Name: "path", Value: "pol"}
	res, err := c.Complete(ctx, req)
	if err != nil || len(res.Completion.Values) != 1 || res.Completion.Values[0] != policiesPath {
		t.Fatalf("completion of the template's path with %q: %+v, %v", "pol", res, err)
	}
	sid := c.GetSessionId()
	call := verdictOf(t, w, sid, store.KindCompletion, "kb://files/pol")
	if call.Verdict != warden.Allow.String() {
		t.Errorf("completion recorded as %q, want allow", call.Verdict)
	}
	evs, err := w.Store.Events(t.Context(), sid)
	if err != nil {
		t.Fatal(err)
	}
	var result *store.Event
	for i := range evs {
		if evs[i].Kind == store.KindResult && evs[i].CallID == call.CallID {
			result = &evs[i]
		}
	}
	if result == nil || !result.OK || !strings.Contains(string(result.Data), policiesPath) {
		t.Errorf("the completion's result is not on record with its values: %+v", result)
	}
	// A read after it is the session's first step.
	if _, err := readResource(ctx, c, "kb://files/"+policiesPath); err != nil {
		t.Fatal(err)
	}
	rec, err := w.Store.Session(t.Context(), sid)
	if err != nil {
		t.Fatal(err)
	}
	var st workflows.State
	if err := json.Unmarshal(rec.Data, &st); err != nil {
		t.Fatalf("session state %s: %v", rec.Data, err)
	}
	if st.Calls != 1 {
		t.Errorf("session state counts %d calls after a completion and a read, want 1", st.Calls)
	}
}
