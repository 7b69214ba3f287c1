package ocsf

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/warden-dev/warden/store"
)

var (
	logon  = activity{1, "Logon"}
	logoff = activity{2, "Logoff"}
)

// authentication is a session's start (Logon: warden accepted the agent's
// token and opened a session) or end (Logoff, with why it ended). A
// refused token opens no session, so it is not in the history: warden's
// log has it.
func (c common) authentication(a activity) obj {
	e := c.base(authentication, a, 1)
	e["user"] = c.agent()
	e["actor"] = c.actor()
	e["session"] = c.session()
	e["service"] = obj{"name": "warden"}
	e["src_endpoint"] = c.srcEndpoint()
	e["is_remote"] = c.s.RemoteAddr != ""
	e["is_mfa"] = false
	e["status_id"], e["status"] = statusSuccess, "Success"
	if c.s.RemoteAddr != "" {
		e["auth_protocol_id"], e["auth_protocol"] = 99, "Bearer token"
	}
	if len(c.ev.Reasons) > 0 {
		e["status_detail"] = strings.Join(c.ev.Reasons, "; ")
	}
	e["message"] = c.who() + " session " + strings.ToLower(a.name)
	return e
}

// authFailures is a window of requests refused for their bearer token (a
// system log record): one Logon failure per address and reason, with
// count, since a refused request opens no session. The user is unknown: a
// token that matched no agent names nobody, and it is never kept.
func (c common) authFailures() []map[string]any {
	var w store.AuthFailures
	if err := json.Unmarshal(c.ev.Data, &w); err != nil {
		return nil
	}
	var out []map[string]any
	add := func(src store.AuthFailureSource, n int, why string) {
		if n == 0 {
			return
		}
		e := c.base(authentication, logon, 3)
		e["metadata"].(obj)["uid"] = c.uid() + "/" + src.Address + "/" + why
		e["time"] = src.Last.UnixMilli()
		e["start_time"], e["end_time"] = src.First.UnixMilli(), src.Last.UnixMilli()
		e["count"] = n
		e["user"] = obj{"name": "unknown", "type_id": 0, "type": "Unknown"}
		e["service"] = obj{"name": "warden"}
		e["src_endpoint"] = endpointOf(src.Address)
		e["is_remote"] = true
		e["auth_protocol_id"], e["auth_protocol"] = 99, "Bearer token"
		e["status_id"], e["status"] = statusFailure, "Failure"
		e["status_detail"] = why
		e["message"] = fmt.Sprintf("%d requests refused from %s: %s", n, src.Address, why)
		out = append(out, e)
	}
	for _, src := range w.Addresses {
		add(src, src.Missing, "no bearer token")
		add(src, src.Invalid, "unknown bearer token")
	}
	if w.More > 0 {
		add(store.AuthFailureSource{Address: "other addresses", First: w.From, Last: w.Until}, w.More, "refused bearer token")
	}
	return out
}
