package supervisor

import (
	"encoding/json"
	"testing"
)

// TestMayBeMethod: the shortcut never says no to a message that decodes
// to the method, escaped letters included, and says no to other calls.
func TestMayBeMethod(t *testing.T) {
	for _, tc := range []struct {
		raw    string
		method string
		want   bool
	}{
		{`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`, "initialize", true},
		{`{"jsonrpc":"2.0","id":1,"method":"\u0069nitialize","params":{}}`, "initialize", true},
		{`{"jsonrpc":"2.0","id":1,"method":"resources/subscribe","params":{"uri":"a://b"}}`, "resources/subscribe", true},
		{`{"jsonrpc":"2.0","id":1,"method":"resources\/subscribe","params":{"uri":"a://b"}}`, "resources/subscribe", true},
		{`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a\"b"}}`, "initialize", true},
		{`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}`, "initialize", false},
		{`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}`, "resources/subscribe", false},
	} {
		var msg struct{ Method string }
		if err := json.Unmarshal([]byte(tc.raw), &msg); err != nil {
			t.Fatal(err)
		}
		got := mayBeMethod([]byte(tc.raw), tc.method)
		if got != tc.want {
			t.Errorf("mayBeMethod(%s, %q) = %v, want %v", tc.raw, tc.method, got, tc.want)
		}
		if msg.Method == tc.method && !got {
			t.Errorf("%s is %s but was passed over", tc.raw, tc.method)
		}
	}
}
