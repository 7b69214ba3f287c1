package e2e

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// The same mail tool as in args_test.go, its input schema written as many
// generators and hands write it: the object behind a $ref into $defs, or
// composed with allOf. The validator follows both; a key that folds to a
// declared property ("BCC" for "bcc") must be refused there too, or the
// struct-binding upstream reads it as bcc while the guard reads no bcc.
var composedSchemas = map[string]string{
	"$ref": `{"$ref":"#/$defs/send","$defs":{"send":{"type":"object","properties":{
		"recipients":{"type":"array","items":{"type":"string"}},"bcc":{"type":"string"},"subject":{"type":"string"}},
		"required":["recipients","subject"]}}}`,
	"allOf": `{"type":"object","allOf":[{"properties":{"recipients":{"type":"array","items":{"type":"string"}},"subject":{"type":"string"}},
		"required":["recipients","subject"]},{"properties":{"bcc":{"type":"string"}}}]}`,
}

// schemaMailUpstream is mailUpstream with a raw input schema.
func schemaMailUpstream(t *testing.T, schema string) (url string, sent func() []sendArgs) {
	t.Helper()
	var (
		mu  sync.Mutex
		got []sendArgs
	)
	s := server.NewMCPServer("mail", "1.0.0", server.WithToolCapabilities(true))
	s.AddTool(mcp.NewToolWithRawSchema("send_email", "send mail", json.RawMessage(schema)),
		mcp.NewTypedToolHandler(func(_ context.Context, _ mcp.CallToolRequest, a sendArgs) (*mcp.CallToolResult, error) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, a)
			return mcp.NewToolResultText("sent"), nil
		}))
	return serveUpstream(t, s), func() []sendArgs {
		mu.Lock()
		defer mu.Unlock()
		return append([]sendArgs(nil), got...)
	}
}

func TestFoldedKeysBehindRefAndAllOfAreRefused(t *testing.T) {
	for name, schema := range composedSchemas {
		t.Run(name, func(t *testing.T) {
			upURL, sent := schemaMailUpstream(t, schema)
			const token = "mailer-token-0123456789abcdef"
			w := startMailWarden(t, upURL, token, false)
			c := connect(t, w.URL, token)
			res := callRaw(t, c, "send_email", `{"recipients":["emma@company.com"],"subject":"hi","BCC":"attacker@evil.com"}`)
			for _, a := range sent() {
				if a.Bcc != "" {
					t.Fatalf("the upstream sent a blind copy to %q past a guard that allows only @company.com (warden answered %q)", a.Bcc, resultText(res))
				}
			}
			if !res.IsError {
				t.Errorf("the call went ahead: %q", resultText(res))
			}
		})
	}
}
