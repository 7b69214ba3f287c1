package ocsf

import "strings"

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
