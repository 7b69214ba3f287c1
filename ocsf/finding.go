package ocsf

import (
	"encoding/json"
	"math"
	"strings"

	"github.com/warden-dev/warden/store"
)

var (
	findingCreate = activity{1, "Create"}
	findingUpdate = activity{2, "Update"}
)

// Finding statuses (status_id of the Findings category).
const (
	findingNew      = 1
	findingResolved = 4
)

// finding describes one Detection Finding before it is encoded.
type finding struct {
	act        activity
	status     int
	statusName string
	title      string
	kind       string // finding_info.types
	analytic   obj
	sev        int
	ctl        control
	risk       int
	hasRisk    bool
}

// escalation is the Detection Finding of a call that warden escalated
// (any verdict above allow), beside the call's API Activity; nil for an
// allowed call.
func (c common) escalation() obj {
	titles := map[string]string{
		"flag":     "Call flagged",
		"throttle": "Call throttled",
		"step_up":  "Call held for approval",
		"deny":     "Call denied",
		"kill":     "Call refused and session killed",
	}
	title, ok := titles[c.ev.Verdict]
	if !ok {
		return nil
	}
	return c.emit(finding{
		act: findingCreate, status: findingNew, statusName: "New",
		title: title, kind: "escalation:" + c.ev.Verdict,
		analytic: obj{"name": "warden policy", "type_id": 1, "type": "Rule"},
		sev:      verdictSeverity[c.ev.Verdict], ctl: verdictControl[c.ev.Verdict],
	}, "#finding")
}

// finding is the Detection Finding of an approval's outcome, a kill, a
// signal or a changed tool definition.
func (c common) finding() obj {
	f := finding{act: findingCreate, status: findingNew, statusName: "New", kind: c.ev.Kind,
		analytic: obj{"name": "warden policy", "type_id": 1, "type": "Rule"}}
	switch c.ev.Kind {
	case store.KindApproval:
		f.act, f.status, f.statusName = findingUpdate, findingResolved, "Resolved"
		f.title = "Held call " + c.ev.Verdict
		f.kind = "approval:" + c.ev.Verdict
		if c.ev.Verdict == store.ApprovalApproved {
			f.sev, f.ctl = 1, control{8, "Approved", 1, "Allowed", false, 0, ""}
		} else {
			f.sev, f.ctl = 3, control{25, "Rejected", 2, "Denied", true, 0, ""}
		}
	case store.KindKill:
		f.title, f.sev = "Session killed", 4
		f.ctl = control{24, "Access Revoked", 2, "Denied", true, 0, ""}
	case store.KindSignal:
		f.title, f.sev = "Signal", 2
		f.ctl = control{15, "Detected", 3, "Observed", true, 0, ""}
		f.analytic = obj{"name": "warden signal", "type_id": 2, "type": "Behavioral"}
		if sig := signalOf(c.ev.Data); sig.Name != "" {
			f.title = "Signal: " + sig.Name
			f.kind = "signal:" + sig.Name
			f.analytic["uid"] = sig.Name
			// OCSF's risk_score is an integer; warden's weights are
			// small decimals, so the score is the weight in hundredths.
			f.risk, f.hasRisk = int(math.Round(sig.Weight*100)), true
		}
		if s, ok := verdictSeverity[c.ev.Verdict]; ok && s > f.sev {
			f.sev = s
		}
	case store.KindToolChanged:
		f.title, f.sev = "Tool definition changed", 3
		f.ctl = control{15, "Detected", 3, "Observed", true, 0, ""}
		f.analytic = obj{"name": "warden tool pinning", "type_id": 5, "type": "Fingerprinting"}
	}
	return c.emit(f, "")
}

// signal is what a signal event's data says of the signal (the
// supervisor's signalData).
type signal struct {
	Name   string  `json:"name"`
	Weight float64 `json:"weight"`
}

// signalOf reads the signal a signal event records; a zero signal when
// it has none.
func signalOf(data json.RawMessage) signal {
	var d struct {
		Signal *signal `json:"signal"`
	}
	if json.Unmarshal(data, &d) != nil || d.Signal == nil {
		return signal{}
	}
	return *d.Signal
}

// emit encodes f; suffix keeps a finding's uid apart from the API
// Activity made from the same warden event.
func (c common) emit(f finding, suffix string) obj {
	e := c.base(detectionFinding, f.act, f.sev, "security_control")
	uid := c.uid() + suffix
	e["metadata"].(obj)["uid"] = uid
	info := obj{
		"uid":          uid,
		"title":        f.title,
		"types":        []string{f.kind},
		"analytic":     f.analytic,
		"created_time": c.ev.Time.UnixMilli(),
	}
	if len(c.ev.Reasons) > 0 {
		info["desc"] = strings.Join(c.ev.Reasons, "; ")
	}
	e["finding_info"] = info
	e["status_id"], e["status"] = f.status, f.statusName
	e["disposition_id"], e["disposition"] = f.ctl.disposition, f.ctl.dispName
	e["action_id"], e["action"] = f.ctl.action, f.ctl.actionName
	e["is_alert"] = f.ctl.alert
	e["confidence_id"], e["confidence"] = 3, "High" // warden saw it happen
	if f.hasRisk {
		e["risk_score"] = f.risk
	}
	ev := obj{"actor": c.actor(), "src_endpoint": c.srcEndpoint()}
	if c.ev.Tool != "" {
		ev["api"] = c.api()
	}
	e["evidences"] = []obj{ev}
	e["message"] = f.title + " (" + c.who() + ")"
	return e
}
