package ocsf

import (
	"strings"

	"github.com/warden-dev/warden/store"
)

var (
	apiRead  = activity{2, "Read"}
	apiOther = activity{99, "Other"}
)

// verdictSeverity is the severity_id of a call with this verdict.
var verdictSeverity = map[string]int{"allow": 1, "flag": 2, "throttle": 2, "step_up": 3, "deny": 3, "kill": 4}

// control is the security_control profile's outcome of a verdict:
// disposition_id and action_id with their captions.
type control struct {
	disposition   int
	dispName      string
	action        int
	actionName    string
	alert         bool
	status        int
	statusCaption string
}

var verdictControl = map[string]control{
	"allow":    {1, "Allowed", 1, "Allowed", false, statusSuccess, "Success"},
	"flag":     {1, "Allowed", 1, "Allowed", true, statusSuccess, "Success"},
	"throttle": {14, "Delayed", 1, "Allowed", true, statusSuccess, "Success"},
	"step_up":  {23, "Challenge", 99, "Other", true, statusOther, "Held for approval"},
	"deny":     {2, "Blocked", 2, "Denied", true, statusFailure, "Failure"},
	"kill":     {2, "Blocked", 2, "Denied", true, statusFailure, "Failure"},
}

// apiCall is the API Activity of a call as warden decided it: the tool,
// resource or prompt asked for, who asked, and what warden did.
func (c common) apiCall() obj {
	act := apiOther // a tool's effect is not in the history
	if c.ev.Kind == store.KindResourceRead || c.ev.Kind == store.KindPromptGet {
		act = apiRead
	}
	sev, ok := verdictSeverity[c.ev.Verdict]
	if !ok {
		sev = 3 // an unknown verdict is worth a look
	}
	e := c.base(apiActivity, act, sev, "security_control")
	api := c.api()
	req := obj{"uid": c.ev.CallID}
	if len(c.ev.Args) > 0 && string(c.ev.Args) != "null" {
		req["data"] = c.ev.Args // as recorded: redacted by the configuration
	}
	api["request"] = req
	e["api"] = api
	e["actor"] = c.actor()
	e["src_endpoint"] = c.srcEndpoint()
	if ctl, ok := verdictControl[c.ev.Verdict]; ok {
		e["disposition_id"], e["disposition"] = ctl.disposition, ctl.dispName
		e["action_id"], e["action"] = ctl.action, ctl.actionName
		e["is_alert"] = ctl.alert
		e["status_id"], e["status"] = ctl.status, ctl.statusCaption
	} else {
		e["status_id"], e["status"] = statusOther, "Unknown verdict "+c.ev.Verdict
	}
	if len(c.ev.Reasons) > 0 {
		e["status_detail"] = strings.Join(c.ev.Reasons, "; ")
	}
	e["message"] = c.who() + " " + c.ev.Kind + " " + c.operation() + ": " + c.ev.Verdict
	return e
}

// apiResult is the API Activity of a call's result: whether the upstream
// answered it, how big the answer was and how long it took.
func (c common) apiResult() obj {
	e := c.base(apiActivity, apiOther, 1)
	api := c.api()
	resp := obj{}
	if c.ev.Error != "" {
		resp["error_message"] = c.ev.Error
	}
	if c.ev.OK {
		e["status_id"], e["status"] = statusSuccess, "Success"
	} else {
		e["status_id"], e["status"] = statusFailure, "Failure"
		e["severity_id"], e["severity"] = 2, severities[2]
		if c.ev.Error != "" {
			e["status_detail"] = c.ev.Error
		}
	}
	api["request"] = obj{"uid": c.ev.CallID}
	if len(resp) > 0 {
		api["response"] = resp
	}
	e["api"] = api
	e["actor"] = c.actor()
	e["src_endpoint"] = c.srcEndpoint()
	if c.ev.LatencyUS > 0 {
		e["duration"] = c.ev.LatencyUS / 1000
	}
	e["message"] = "result of " + c.operation() + " for " + c.who()
	return e
}

// api names the operation and the upstream that serves it.
func (c common) api() obj {
	a := obj{"operation": c.operation()}
	if c.ev.Upstream != "" {
		a["service"] = obj{"name": c.ev.Upstream}
	}
	return a
}

// operation is the tool, resource or prompt the call names.
func (c common) operation() string {
	if c.ev.Tool != "" {
		return c.ev.Tool
	}
	return c.ev.Kind
}

// who is the agent for a message.
func (c common) who() string {
	if c.s.Agent == "" {
		return "warden"
	}
	return "agent " + c.s.Agent
}
