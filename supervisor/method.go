package supervisor

import "bytes"

// mayBeMethod reports whether the JSON-RPC message raw can be a request
// of method, without decoding it: every message passes through warden's
// hooks, and only initialize and resources/subscribe are looked into. A
// method name is in raw as written, or with escapes (\u0069, \/); a
// message with neither the name nor a backslash cannot name it.
func mayBeMethod(raw []byte, method string) bool {
	return bytes.Contains(raw, []byte(method)) || bytes.IndexByte(raw, '\\') >= 0
}
