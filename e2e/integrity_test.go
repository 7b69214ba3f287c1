package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	bolt "go.etcd.io/bbolt"

	"github.com/warden-dev/warden/examples"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
	"github.com/warden-dev/warden/tools"
	"github.com/warden-dev/warden/workflows"
)

// History covers what warden trusts: the session state it resumes from,
// and not the secrets a result rule withheld. The agent is the demo's
// support-bot under the example workflow (a refund goes only to an IBAN a
// lookup bound into vars.accounts), in front of a real mcp-go upstream
// that counts the refunds it carries out.

const (
	integrityCustomer = "C-1001"
	integrityIBAN     = "FR7630006000011234567890189"
	attackerIBAN      = "GB33BUKB20201555555555"
	leakedSecret      = "sk_live_9f8e7d6c5b4a39281706"
)

// refundDesk is the upstream: lookup_customer, issue_refund (which
// records every IBAN it paid) and read_file (whose note holds a live key).
type refundDesk struct {
	URL  string
	mu   sync.Mutex
	paid []string
}

func newRefundDesk(t *testing.T) *refundDesk {
	t.Helper()
	d := &refundDesk{}
	s := server.NewMCPServer("desk", "1.0.0", server.WithToolCapabilities(true))
	s.AddTool(mcp.NewTool("lookup_customer", mcp.WithString("query", mcp.Required())),
		func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultStructuredOnly(map[string]any{"customers": []map[string]any{{"id": integrityCustomer, "iban": integrityIBAN}}}), nil
		})
	s.AddTool(mcp.NewTool("issue_refund", mcp.WithString("customer_id", mcp.Required()), mcp.WithString("iban", mcp.Required()), mcp.WithNumber("amount", mcp.Required())),
		func(_ context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			d.mu.Lock()
			d.paid = append(d.paid, req.GetString("iban", ""))
			d.mu.Unlock()
			return mcp.NewToolResultText("refund sent"), nil
		})
	s.AddTool(mcp.NewTool("read_file", mcp.WithString("path", mcp.Required())),
		func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultText("deploy notes\nPAYMENTS_API_KEY=" + leakedSecret + "\n"), nil
		})
	d.URL = serveUpstream(t, s)
	return d
}

// paidTo reports the IBANs the upstream refunded to.
func (d *refundDesk) paidTo() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.paid...)
}

// integrityWarden runs warden on dbPath with the example support
// workflow; keepWithheld is the agent's option to record withheld results
// in clear.
func integrityWarden(t *testing.T, dbPath string, desk *refundDesk, keepWithheld bool) *wardenUnderTest {
	t.Helper()
	wf, err := workflows.Parse("support.yaml", examples.SupportWorkflow)
	if err != nil {
		t.Fatal(err)
	}
	agents := []supervisor.Agent{{Name: "support-bot", TokenSHA256: hashToken(supportToken), KeepWithheld: keepWithheld}}
	return startWardenOn(t, dbPath, []tools.Spec{{Name: "desk", URL: desk.URL}}, agents, func(o *supervisor.Options) {
		o.Policies = map[string]*supervisor.Policy{"support-bot": {Workflow: wf}}
	})
}

// addAccountOffline opens the stopped warden's bbolt file directly and
// adds an account to the session's bound vars.accounts, as someone with
// write access to the data directory could.
func addAccountOffline(t *testing.T, dbPath, sid, account string) {
	t.Helper()
	db, err := bolt.Open(dbPath, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("sessions"))
		var rec map[string]json.RawMessage
		err := json.Unmarshal(b.Get([]byte(sid)), &rec)
		if err != nil {
			return err
		}
		var st map[string]any
		if err := json.Unmarshal(rec["data"], &st); err != nil {
			return err
		}
		vars, _ := st["vars"].(map[string]any)
		accounts, _ := vars["accounts"].([]any)
		if len(accounts) == 0 {
			t.Errorf("the session's state has no accounts to add to: %s", rec["data"])
			return nil
		}
		vars["accounts"] = append(accounts, account)
		if rec["data"], err = json.Marshal(st); err != nil {
			return err
		}
		v, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		return b.Put([]byte(sid), v)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestEditedSessionStateIsNotResumed: the agent looks up its customer,
// which binds the customer's IBAN; warden stops; the bbolt file is edited
// to add the attacker's IBAN to vars.accounts; warden restarts. The
// agent's resumption is refused (the session is killed, on record, with
// the reason), no refund reaches the upstream, and verify reports the
// session broken. On a main without the state's digest on the chain, the
// refund to the attacker went through and verify said intact.
func TestEditedSessionStateIsNotResumed(t *testing.T) {
	desk := newRefundDesk(t)
	dbPath := filepath.Join(t.TempDir(), "warden.db")
	w := integrityWarden(t, dbPath, desk, false)
	c := connect(t, w.URL, supportToken)
	callTool(t, c, "lookup_customer", map[string]any{"query": integrityCustomer})
	refused := callTool(t, c, "issue_refund", map[string]any{"customer_id": integrityCustomer, "iban": attackerIBAN, "amount": 50})
	if !refused.IsError {
		t.Fatalf("a refund to an IBAN that was never looked up went ahead: %s", resultText(refused))
	}
	sid := c.GetSessionId()
	w.Stop()

	addAccountOffline(t, dbPath, sid, integrityCustomer+" "+attackerIBAN)

	w2 := integrityWarden(t, dbPath, desk, false)
	rc := rejoin(t, w2.URL, supportToken, sid)
	req := mcp.CallToolRequest{}
	req.Params.Name = "issue_refund"
	req.Params.Arguments = map[string]any{"customer_id": integrityCustomer, "iban": attackerIBAN, "amount": 50}
	res, err := rc.CallTool(context.Background(), req)
	if err == nil {
		t.Fatalf("the session resumed from the edited state; the call answered %q (IsError %v)", resultText(res), res.IsError)
	}
	if paid := desk.paidTo(); len(paid) != 0 {
		t.Fatalf("the upstream refunded %v", paid)
	}

	ctx := context.Background()
	rec, err := w2.Store.Session(ctx, sid)
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != store.StateKilled || !strings.Contains(rec.Reason, "does not match its history") {
		t.Fatalf("session after the refused resumption: state %q, reason %q", rec.State, rec.Reason)
	}
	evs, err := w2.Store.Events(ctx, sid)
	if err != nil {
		t.Fatal(err)
	}
	last := evs[len(evs)-1]
	if last.Kind != store.KindKill || !strings.Contains(strings.Join(last.Reasons, " "), "state was altered") {
		t.Fatalf("last event: %s %v; want the kill with its reason", last.Kind, last.Reasons)
	}
	rep, err := w2.Store.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Broken) != 1 || rep.Broken[0].Session != sid || !strings.Contains(rep.Broken[0].Reason, "state was altered") {
		t.Fatalf("verify: %+v; want the edited session broken", rep)
	}
}

// TestWithheldResultIsNotKeptInClear: a result carrying a live API key is
// withheld by the workflow's result rule (which kills the session). By
// default history keeps its digest and the rule's name, and the key is
// nowhere in the bbolt file or its write-ahead log, read as raw bytes;
// with the operator's option, the result is kept in clear. On a main
// that recorded every result's text, the key was in both files.
func TestWithheldResultIsNotKeptInClear(t *testing.T) {
	for _, tc := range []struct {
		name string
		keep bool
	}{{"digest by default", false}, {"kept in clear by option", true}} {
		t.Run(tc.name, func(t *testing.T) {
			desk := newRefundDesk(t)
			dbPath := filepath.Join(t.TempDir(), "warden.db")
			w := integrityWarden(t, dbPath, desk, tc.keep)
			c := connect(t, w.URL, supportToken)
			res := callTool(t, c, "read_file", map[string]any{"path": "notes/deploy.md"})
			if !res.IsError || strings.Contains(resultText(res), leakedSecret) {
				t.Fatalf("the result rule did not withhold the key: %q", resultText(res))
			}
			ctx := context.Background()
			evs, err := w.Store.Events(ctx, c.GetSessionId()) // a read: the log is in bbolt now
			if err != nil {
				t.Fatal(err)
			}
			var rec supervisor.ResultRecord
			for _, e := range evs {
				if e.Kind == store.KindResult && e.Tool == "read_file" {
					if err := json.Unmarshal(e.Data, &rec); err != nil {
						t.Fatal(err)
					}
				}
			}
			files := map[string][]byte{}
			for _, name := range []string{dbPath, dbPath + "-wal"} {
				b, err := os.ReadFile(name)
				if err != nil {
					t.Fatal(err)
				}
				files[filepath.Base(name)] = b
			}
			for name, raw := range files {
				if has := bytes.Contains(raw, []byte(leakedSecret)); has != tc.keep {
					t.Errorf("%s holds the withheld key: %v, want %v", name, has, tc.keep)
				}
			}
			if tc.keep {
				if !strings.Contains(rec.Text, leakedSecret) || rec.Withheld {
					t.Fatalf("with the option, the result record is %+v; want the text in clear", rec)
				}
				return
			}
			if !rec.Withheld || len(rec.SHA256) != 64 || rec.Bytes == 0 || rec.Text != "" || !slices.Equal(rec.Rules, []string{"leaked-key"}) {
				t.Fatalf("result record %+v; want withheld, a digest and the rule leaked-key", rec)
			}
			for _, want := range []string{rec.SHA256, `"leaked-key"`} {
				if !bytes.Contains(files[filepath.Base(dbPath)], []byte(want)) {
					t.Errorf("the bbolt file does not hold %s", want)
				}
			}
		})
	}
}
