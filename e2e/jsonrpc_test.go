package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// rpcReply is what warden answered to one raw POST.
type rpcReply struct {
	status    int
	sessionID string
	body      string
	msg       struct {
		ID     any             `json:"id"`
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
}

// postRaw sends body to warden's /mcp as the agent with a valid token, in
// session sid when it is not empty.
func postRaw(t *testing.T, url, body, sid string) rpcReply {
	t.Helper()
	return postRawAs(t, url, supportToken, body, sid)
}

// postRawAs is postRaw with the agent's token.
func postRawAs(t *testing.T, url, token, body, sid string) rpcReply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	if sid != "" {
		req.Header.Set("Mcp-Session-Id", sid)
		req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("warden did not answer %q: %v", body, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := rpcReply{status: resp.StatusCode, sessionID: resp.Header.Get("Mcp-Session-Id"), body: string(b)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(b, &r.msg); err != nil {
			t.Fatalf("answer to %q is not JSON-RPC: %s", body, b)
		}
	}
	return r
}

// TestMalformedJSONRPC: garbage from an authenticated agent gets JSON-RPC
// errors with the right codes, creates no session, and does not disturb
// the sessions that work.
func TestMalformedJSONRPC(t *testing.T) {
	w := demoWarden(t)
	c := connect(t, w.URL, supportToken)
	sid := c.GetSessionId()
	if sid == "" {
		t.Fatal("the client has no session id")
	}

	cases := []struct {
		name   string
		body   string
		inSess bool
		// wantCodes are the acceptable JSON-RPC error codes; empty means
		// no JSON-RPC error is expected, only no session and no result.
		wantCodes  []int
		wantStatus int
		wantID     any
	}{
		{"truncated JSON", `{"jsonrpc":`, false, []int{-32700}, 400, nil},
		{"not JSON", `not json at all`, false, []int{-32700}, 400, nil},
		{"empty body", ``, false, []int{-32700}, 400, nil},
		{"truncated JSON in a session", `{"jsonrpc":"2.0","id":1,"meth`, true, []int{-32700}, 400, nil},
		// MCP removed batching (2025-06-18). -32600 would be the precise
		// code; mcp-go answers -32700 (see the report).
		{"batch", `[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"ping"}]`, false, []int{-32700, -32600}, 400, nil},
		{"batch in a session", `[{"jsonrpc":"2.0","id":1,"method":"ping"}]`, true, []int{-32700, -32600}, 400, nil},
		{"unknown method", `{"jsonrpc":"2.0","id":7,"method":"no/such/method"}`, true, []int{-32601}, 200, float64(7)},
		{"wrong JSON-RPC version", `{"jsonrpc":"1.0","id":8,"method":"ping"}`, true, []int{-32600}, 200, float64(8)},
		{"params of the wrong type", `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":"str"}`, true, []int{-32600, -32602}, 200, float64(9)},
		{"initialize without a version", `{"id":1,"method":"initialize"}`, false, []int{-32600}, 200, float64(1)},
		{"initialize with bad params", `{"jsonrpc":"2.0","id":2,"method":"initialize","params":"x"}`, false, []int{-32600}, 200, float64(2)},
		// A message with an id and no method parses as a response to a
		// request of warden's: mcp-go accepts it (202) and drops it.
		{"missing method", `{"jsonrpc":"2.0","id":3}`, false, nil, 0, nil},
		{"missing method in a session", `{"jsonrpc":"2.0","id":4,"params":{}}`, true, nil, 0, nil},
	}
	var minted []string // session ids that garbage was handed (see the report)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := ""
			if tc.inSess {
				s = sid
			}
			r := postRaw(t, w.URL, tc.body, s)
			if r.status >= 500 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if len(r.msg.Result) > 0 {
				t.Fatalf("garbage got a result: %s", r.body)
			}
			if r.sessionID != "" {
				minted = append(minted, r.sessionID)
			}
			if tc.wantCodes == nil {
				if r.status >= 200 && r.status < 300 && r.status != http.StatusAccepted {
					t.Fatalf("status %d for a message with no method: %s", r.status, r.body)
				}
				return
			}
			if r.status != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", r.status, tc.wantStatus, r.body)
			}
			if r.msg.Error == nil || !slices.Contains(tc.wantCodes, r.msg.Error.Code) {
				t.Fatalf("answer %s; want a JSON-RPC error with code in %v", r.body, tc.wantCodes)
			}
			if r.msg.ID != tc.wantID {
				t.Fatalf("error id = %v, want %v", r.msg.ID, tc.wantID)
			}
		})
	}

	// No garbage made a session on record, and an id minted for a failed
	// initialize cannot call a tool.
	ctx := context.Background()
	sessions, err := w.Store.Sessions(ctx, storeFilter(""))
	if err != nil || len(sessions) != 1 || sessions[0].ID != sid {
		t.Fatalf("sessions on record = %+v, %v; want only the client's %s", sessions, err, sid)
	}
	for _, id := range minted {
		r := postRaw(t, w.URL, `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"echo","arguments":{"message":"sneaky"}}}`, id)
		if strings.Contains(r.body, `"text":"sneaky"`) {
			t.Fatalf("a session id minted for a failed initialize ran a tool: %s", r.body)
		}
	}

	// The working session is undisturbed.
	if got := resultText(callTool(t, c, "echo", map[string]any{"message": "after garbage"})); got != "after garbage" {
		t.Fatalf("echo after garbage = %q", got)
	}
	evs, err := w.Store.Events(ctx, sid)
	if err != nil || len(evs) != 4 {
		t.Fatalf("events of the working session = %d, %v; want session_start, call, upstream_session, result", len(evs), err)
	}
}
