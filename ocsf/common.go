package ocsf

import (
	"encoding/json"
	"net"
	"net/netip"
	"strconv"

	"github.com/warden-dev/warden/store"
)

// class is an OCSF event class: its uid is category_uid*1000 + the
// class's number in its category.
type class struct {
	uid, category      int
	name, categoryName string
}

var (
	apiActivity      = class{6003, 6, "API Activity", "Application Activity"}
	authentication   = class{3002, 3, "Authentication", "Identity & Access Management"}
	detectionFinding = class{2004, 2, "Detection Finding", "Findings"}
)

// activity is one of a class's activity_id values with its caption.
type activity struct {
	id   int
	name string
}

// Severities (severity_id), with their captions.
var severities = map[int]string{1: "Informational", 2: "Low", 3: "Medium", 4: "High", 5: "Critical"}

// Statuses of an event (status_id) in the base event's enumeration.
const (
	statusSuccess = 1
	statusFailure = 2
	statusOther   = 99
)

// common holds what every event of one warden event shares.
type common struct {
	s  store.Session
	ev store.Event
}

func newCommon(s store.Session, ev store.Event) common { return common{s: s, ev: ev} }

// uid names the warden event: the session and its seq. A line made from it
// keeps it across exports and redeliveries, so a SIEM can drop duplicates.
func (c common) uid() string {
	return c.ev.Session + "/" + strconv.FormatUint(c.ev.Seq, 10)
}

// base is the part of an event every class has. sev is a severity_id;
// profiles names the OCSF profiles the event uses.
func (c common) base(k class, a activity, sev int, profiles ...string) obj {
	md := obj{
		"version":  Version,
		"product":  obj{"name": "warden", "vendor_name": "warden"},
		"uid":      c.uid(),
		"log_name": "warden history",
		// The seq orders a session's events; the hashes let a SIEM check
		// the chain without warden (docs/history-export.md).
		"sequence":    int64(c.ev.Seq),
		"logged_time": c.ev.Time.UnixMilli(),
	}
	if c.ev.CallID != "" {
		// Ties a call to its result, approval and finding.
		md["correlation_uid"] = c.ev.Session + "/" + c.ev.CallID
	}
	if len(profiles) > 0 {
		md["profiles"] = profiles
	}
	return obj{
		"class_uid":     k.uid,
		"class_name":    k.name,
		"category_uid":  k.category,
		"category_name": k.categoryName,
		"activity_id":   a.id,
		"activity_name": a.name,
		"type_uid":      int64(k.uid)*100 + int64(a.id),
		"type_name":     k.name + ": " + a.name,
		"severity_id":   sev,
		"severity":      severities[sev],
		"time":          c.ev.Time.UnixMilli(),
		"metadata":      md,
		"unmapped":      obj{"warden": c.record()},
	}
}

// record is warden's own view of the event, for what OCSF has no place
// for: its kind, verdict and reasons, and its place on the chain.
func (c common) record() obj {
	r := obj{
		"session": c.ev.Session,
		"seq":     c.ev.Seq,
		"kind":    c.ev.Kind,
		"prev":    c.ev.Prev,
		"hash":    c.ev.Hash,
	}
	if c.s.Agent != "" {
		r["agent"] = c.s.Agent
	}
	if c.s.UserAgent != "" {
		r["user_agent"] = c.s.UserAgent
	}
	if c.ev.Verdict != "" {
		r["verdict"] = c.ev.Verdict
	}
	if len(c.ev.Reasons) > 0 {
		r["reasons"] = c.ev.Reasons
	}
	if len(c.ev.Data) > 0 && json.Valid(c.ev.Data) {
		r["data"] = json.RawMessage(c.ev.Data)
	}
	return r
}

// actor is the agent: a non-human identity, with the MCP client it runs
// in and its warden session.
func (c common) actor() obj {
	a := obj{"user": c.agent(), "session": c.session()}
	if c.s.ClientName != "" {
		a["app_name"] = c.s.ClientName
	}
	return a
}

// agent is the agent as an OCSF user: OCSF's user types are for people
// and services; an AI agent is "Other".
func (c common) agent() obj {
	name := c.s.Agent
	if name == "" {
		name = "warden" // the system log: warden itself acted
	}
	return obj{"name": name, "uid": name, "type_id": 99, "type": "AI agent"}
}

func (c common) session() obj {
	return obj{"uid": c.ev.Session, "created_time": c.s.Started.UnixMilli(), "is_remote": c.s.RemoteAddr != ""}
}

// srcEndpoint is where the agent connected from: the client address warden
// recorded, or the local process for a stdio session.
func (c common) srcEndpoint() obj {
	if c.s.RemoteAddr == "" {
		return obj{"name": "local (stdio)"}
	}
	return endpointOf(c.s.RemoteAddr)
}

// endpointOf is a network endpoint from an address, host:port or a host.
func endpointOf(addr string) obj {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		host, port = addr, ""
	}
	ep := obj{}
	if ip, err := netip.ParseAddr(host); err == nil {
		ep["ip"] = ip.String()
	} else {
		ep["name"] = host
	}
	if p, err := strconv.ParseUint(port, 10, 16); err == nil {
		ep["port"] = int(p)
	}
	return ep
}
