package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/warden-dev/warden/store"
)

func TestApprovalsLs(t *testing.T) {
	st, srv := newStandIn(t)
	cases := []struct {
		name    string
		args    []string
		query   string   // the query the API must receive
		want    []string // in the output
		notWant []string
	}{
		{"all", nil, "", []string{"ID", "REASONS", "ap-1", "pending", "payments_refund", "refund over 50", "ap-2", "approved (once)", "ap-3", "expired"}, nil},
		{"pending of one agent", []string{"--state", "pending", "--agent", "support-bot", "--limit", "5"}, "agent=support-bot&limit=5&state=pending",
			[]string{"ap-1"}, []string{"ap-2", "ap-3"}},
		{"one session", []string{"--session", "s-2"}, "session=s-2", []string{"ap-2"}, []string{"ap-1"}},
		{"none", []string{"--agent", "nobody"}, "agent=nobody", []string{"no approvals"}, []string{"ID"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := runCLI(t, testEnv(), append([]string{"approvals", "ls", "--admin", srv.URL}, c.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			r := st.last(t)
			if r.Method != "GET" || r.Path != "/v1/approvals" || r.Query.Encode() != c.query || r.Auth != "Bearer "+adminToken {
				t.Fatalf("request %s %s?%s auth %q; want GET /v1/approvals?%s with the token", r.Method, r.Path, r.Query.Encode(), r.Auth, c.query)
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range c.notWant {
				if strings.Contains(out, w) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
		})
	}
	if _, err := runCLI(t, testEnv(), "approvals", "ls", "--admin", srv.URL, "--state", "open"); err == nil {
		t.Fatal("--state open was accepted")
	}
}

func TestApprovalsLsJSON(t *testing.T) {
	_, srv := newStandIn(t)
	out, err := runCLI(t, testEnv(), "approvals", "ls", "--admin", srv.URL, "--json", "--state", "approved")
	if err != nil {
		t.Fatal(err)
	}
	var got []store.Approval
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("--json output is not a list of approvals: %v\n%s", err, out)
	}
	if len(got) != 1 || got[0].ID != "ap-2" || got[0].DecidedBy != "alice@desk" || got[0].Decision != store.DecisionOnce {
		t.Fatalf("--json = %+v", got)
	}
	out, err = runCLI(t, testEnv(), "approvals", "ls", "--admin", srv.URL, "--json", "--agent", "nobody")
	if err != nil || strings.TrimSpace(out) != "[]" {
		t.Fatalf("--json with no match = %q, %v; want []", out, err)
	}
}

func TestApprovalsShow(t *testing.T) {
	st, srv := newStandIn(t)
	out, err := runCLI(t, testEnv(), "approvals", "show", "ap-1", "--admin", srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"approval ap-1  pending", "support-bot", "s-1", "payments_refund (upstream pay)  call 7", `{"amount":500,"iban":"XX00"}`, "digest   d1", `step "refund": guard is false`, "refund over 50"} {
		if !strings.Contains(out, w) {
			t.Errorf("show lacks %q:\n%s", w, out)
		}
	}
	if r := st.last(t); r.Path != "/v1/approvals/ap-1" {
		t.Fatalf("path %s", r.Path)
	}
	out, err = runCLI(t, testEnv(), "approvals", "show", "ap-2", "--admin", srv.URL, "--json")
	var a store.Approval
	if err != nil || json.Unmarshal([]byte(out), &a) != nil || a.ID != "ap-2" || a.State != store.ApprovalApproved {
		t.Fatalf("show --json = %q, %v", out, err)
	}
	// An id with a slash is one path segment.
	_, err = runCLI(t, testEnv(), "approvals", "show", "a/b", "--admin", srv.URL)
	if err == nil || !strings.Contains(err.Error(), `no approval "a/b"`) || !strings.Contains(err.Error(), "404 Not Found") {
		t.Fatalf("show of an unknown id = %v", err)
	}
	if r := st.lastLookup(t); r.Path != "/v1/approvals/a/b" && r.Path != "/v1/approvals/a%2Fb" {
		t.Fatalf("path %s", r.Path)
	}
}

func TestApprovalsDecide(t *testing.T) {
	cases := []struct {
		name     string
		args     []string
		body     map[string]any // the request body the API must receive
		want     string         // in the output, or in the error when fails
		fails    bool
		newState string // ap-1's state afterwards
	}{
		{"approve once", []string{"approve", "ap-1"}, map[string]any{"decision": "once", "by": "tester@" + hostname(t)},
			"approved ap-1 (payments_refund) once, by tester@", false, store.ApprovalApproved},
		{"approve for the session", []string{"approve", "ap-1", "--for-session", "--by", "alice", "--note", "known customer"},
			map[string]any{"decision": "session", "by": "alice", "note": "known customer"},
			"approved ap-1 (payments_refund) for the rest of session s-1, by alice", false, store.ApprovalApproved},
		{"deny", []string{"deny", "ap-1", "--by", "bob"}, map[string]any{"decision": "deny", "by": "bob"},
			"denied ap-1 (payments_refund), by bob", false, store.ApprovalDenied},
		{"deny and kill", []string{"deny", "ap-1", "--kill", "--by", "bob", "--note", "injection"},
			map[string]any{"decision": "deny_kill", "by": "bob", "note": "injection"},
			"denied ap-1 (payments_refund) and killed session s-1, by bob", false, store.ApprovalDenied},
		{"already decided", []string{"approve", "ap-2", "--by", "bob"}, map[string]any{"decision": "once", "by": "bob"},
			"approval ap-2 was already decided; a decision is used once: admin API POST /v1/approvals/ap-2/decision: 409 Conflict: already decided (once by alice@desk)", true, store.ApprovalPending},
		{"expired", []string{"deny", "ap-3", "--by", "bob"}, map[string]any{"decision": "deny", "by": "bob"},
			"approval ap-3 has expired: its call is no longer held: admin API POST /v1/approvals/ap-3/decision: 410 Gone: approval expired: warden restarted", true, store.ApprovalPending},
		{"unknown", []string{"approve", "ap-9", "--by", "bob"}, map[string]any{"decision": "once", "by": "bob"},
			`no approval "ap-9": admin API POST /v1/approvals/ap-9/decision: 404 Not Found: no approval "ap-9"`, true, store.ApprovalPending},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, srv := newStandIn(t) // a fresh API each time: ap-1 pending
			out, err := runCLI(t, testEnv(), append([]string{"approvals"}, append(c.args, "--admin", srv.URL)...)...)
			if c.fails {
				if err == nil || err.Error() != c.want {
					t.Fatalf("error = %v\nwant    %s", err, c.want)
				}
			} else if err != nil || !strings.Contains(out, c.want) {
				t.Fatalf("output %q, error %v; want %q", out, err, c.want)
			}
			r := st.lastLookup(t)
			if r.Method != "POST" || r.Path != "/v1/approvals/"+c.args[1]+"/decision" || r.Auth != "Bearer "+adminToken {
				t.Fatalf("request %s %s auth %q", r.Method, r.Path, r.Auth)
			}
			if !jsonEqual(r.Body, c.body) {
				t.Fatalf("body %v, want %v", r.Body, c.body)
			}
			if got := st.find("ap-1").State; got != c.newState {
				t.Fatalf("ap-1 is %s afterwards, want %s", got, c.newState)
			}
		})
	}
}

func TestApproveJSON(t *testing.T) {
	_, srv := newStandIn(t)
	out, err := runCLI(t, testEnv(), "approvals", "approve", "ap-1", "--admin", srv.URL, "--json", "--by", "carol")
	var a store.Approval
	if err != nil || json.Unmarshal([]byte(out), &a) != nil {
		t.Fatalf("approve --json = %q, %v", out, err)
	}
	if a.State != store.ApprovalApproved || a.Decision != store.DecisionOnce || a.DecidedBy != "carol" || a.DecidedAt.IsZero() {
		t.Fatalf("approval after approve: %+v", a)
	}
}

// jsonEqual compares a decoded body with what is wanted, as JSON.
func jsonEqual(got, want map[string]any) bool {
	a, _ := json.Marshal(got)
	b, _ := json.Marshal(want)
	return string(a) == string(b)
}
