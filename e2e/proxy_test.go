package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/warden-dev/warden/internal/demo"
	"github.com/warden-dev/warden/supervisor"
	"github.com/warden-dev/warden/tools"
)

const supportToken = "support-token-0123456789"

func demoWarden(t *testing.T) *wardenUnderTest {
	t.Helper()
	up := serveUpstream(t, demo.NewUpstream().Server())
	return startWarden(t,
		[]tools.Spec{{Name: "desk", URL: up}},
		[]supervisor.Agent{
			{Name: "support", TokenSHA256: hashToken(supportToken)},
			{Name: "reader", TokenSHA256: hashToken("reader-token-0123456789"), Tools: []string{"read_*", "list_*"}},
		})
}

func TestProxyRecordsEveryCall(t *testing.T) {
	w := demoWarden(t)
	c := connect(t, w.URL, supportToken)

	ctx := context.Background()
	list, err := c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(list.Tools); got != 5 {
		t.Fatalf("tools through warden = %d, want the demo's 5", got)
	}
	res := callTool(t, c, "lookup_customer", map[string]any{"query": "C-1002"})
	if res.IsError {
		t.Fatalf("lookup failed: %s", resultText(res))
	}
	sc, _ := json.Marshal(res.StructuredContent)
	if !strings.Contains(string(sc), "NL91ABNA0417164300") {
		t.Fatalf("structured content lost on the way: %s", sc)
	}
	res = callTool(t, c, "read_file", map[string]any{"path": "nope"})
	if !res.IsError || !strings.Contains(resultText(res), `no file "nope"`) {
		t.Fatalf("upstream tool error not passed through: %+v", res)
	}

	sessions, err := w.Store.Sessions(ctx, storeFilter("support"))
	if err != nil || len(sessions) != 1 {
		t.Fatalf("sessions of support = %v, %v; want 1", sessions, err)
	}
	sess := sessions[0]
	if sess.ClientName != "e2e-agent" || sess.State != "active" || sess.ProtocolVersion != "2025-11-25" {
		t.Fatalf("session record = %+v", sess)
	}
	evs, err := w.Store.Events(ctx, sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range evs {
		kinds = append(kinds, e.Kind+":"+e.Tool)
	}
	want := "session_start: call:lookup_customer upstream_session: result:lookup_customer call:read_file result:read_file"
	if strings.Join(kinds, " ") != want {
		t.Fatalf("timeline = %v\nwant %s", kinds, want)
	}
	if evs[1].Verdict != "allow" || string(evs[1].Args) != `{"query":"C-1002"}` || evs[1].CallID != evs[3].CallID {
		t.Fatalf("call event = %+v", evs[1])
	}
	if evs[2].Upstream != "desk" {
		t.Fatalf("upstream session event = %+v", evs[2])
	}
	if !evs[3].OK || evs[5].OK || evs[5].Error == "" || evs[3].Size == 0 {
		t.Fatalf("result events = %+v / %+v", evs[3], evs[5])
	}
	rep, err := w.Store.Verify(ctx)
	if err != nil || len(rep.Broken) != 0 {
		t.Fatalf("verify = %+v, %v", rep, err)
	}
}

func TestProxyToolVisibility(t *testing.T) {
	w := demoWarden(t)
	c := connect(t, w.URL, "reader-token-0123456789")
	list, err := c.ListTools(context.Background(), mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range list.Tools {
		names = append(names, tl.Name)
	}
	if strings.Join(names, ",") != "list_files,read_file" {
		t.Fatalf("reader sees %v, want list_files,read_file", names)
	}
	req := mcp.CallToolRequest{}
	req.Params.Name = "issue_refund"
	req.Params.Arguments = map[string]any{"customer_id": "C-1001", "iban": "X", "amount": 1}
	res, err := c.CallTool(context.Background(), req)
	if err == nil && !res.IsError {
		t.Fatalf("a hidden tool was callable: %+v", res)
	}
}

func TestFrontRefusesBadRequests(t *testing.T) {
	w := demoWarden(t)
	initBody := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}`
	cases := []struct {
		name       string
		header     map[string]string
		body       string
		wantStatus int
		wantAuth   string
	}{
		{"no token", nil, initBody, 401, `Bearer realm="warden"`},
		{"wrong token", map[string]string{"Authorization": "Bearer nope"}, initBody, 401, `Bearer realm="warden", error="invalid_token"`},
		{"not bearer", map[string]string{"Authorization": "Basic " + supportToken}, initBody, 401, `Bearer realm="warden", error="invalid_token"`},
		{"rebinding host", map[string]string{"Authorization": "Bearer " + supportToken, "Host": "evil.example"}, initBody, 403, ""},
		{"foreign origin", map[string]string{"Authorization": "Bearer " + supportToken, "Origin": "https://evil.example"}, initBody, 403, ""},
		{"oversized body", map[string]string{"Authorization": "Bearer " + supportToken}, `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"` + strings.Repeat("x", 2<<20) + `"}}`, 413, ""},
		{"unknown session", map[string]string{"Authorization": "Bearer " + supportToken, "Mcp-Session-Id": "0123456789abcdef0123456789abcdef", "Mcp-Protocol-Version": "2025-11-25"}, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`, 404, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, w.URL, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			for k, v := range tc.header {
				if k == "Host" {
					req.Host = v
					continue
				}
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, body, tc.wantStatus)
			}
			if got := resp.Header.Get("WWW-Authenticate"); got != tc.wantAuth {
				t.Fatalf("WWW-Authenticate = %q, want %q", got, tc.wantAuth)
			}
		})
	}
	all, err := w.Store.Sessions(context.Background(), storeFilter(""))
	if err != nil || len(all) != 0 {
		t.Fatalf("refused requests created sessions: %v %v", all, err)
	}
}
