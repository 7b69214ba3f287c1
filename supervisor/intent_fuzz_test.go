package supervisor

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzDeclaredIntent feeds initialize bodies and headers to the intent
// reader: it never panics, and an intent it accepts is within bounds and
// not empty.
func FuzzDeclaredIntent(f *testing.F) {
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"_meta":{"dev.warden/intent":"pay rent"}}}`), "")
	f.Add([]byte(`{"method":"initialize","params":{"_meta":{"dev.warden/intent":{"request":"x","actions":["a*"],"amounts":[1.5]}}}}`), "")
	f.Add([]byte(`{"method":"initialize","params":{}}`), "book%20a%20table")
	f.Add([]byte(`{"method":"initialize","params":{"_meta":{"dev.warden/intent":{"request":"x","extra":1}}}}`), "%zz")
	f.Add([]byte(`{"method":"tools/call"}`), "x")
	f.Fuzz(func(t *testing.T, body []byte, header string) {
		in, err := initializeIntent(body, header)
		if err != nil {
			if in != nil || !strings.Contains(err.Error(), "intent") {
				t.Fatalf("error %v with intent %+v", err, in)
			}
			return
		}
		if in == nil {
			return
		}
		switch {
		case len(in.Request) > maxIntentBytes || !utf8.ValidString(in.Request):
			t.Fatalf("accepted a request of %d bytes, valid UTF-8 %v", len(in.Request), utf8.ValidString(in.Request))
		case len(in.Actions) > maxIntentItems || len(in.Recipients) > maxIntentItems || len(in.Amounts) > maxIntentItems:
			t.Fatalf("accepted lists over the cap: %+v", in)
		case in.Request == "" && len(in.Actions)+len(in.Recipients)+len(in.Amounts) == 0:
			t.Fatal("accepted an empty intent")
		}
	})
}
