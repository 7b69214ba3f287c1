package console

import (
	"net/http"

	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
)

// maxListed caps the sessions and decided approvals a page lists.
const maxListed = 200

func (c *console) sessionsPage(w http.ResponseWriter, r *http.Request, l login) {
	rows, err := supervisor.SessionRows(r.Context(), c.sup.Store(), store.Filter{Limit: maxListed})
	if err != nil {
		fail(w, err)
		return
	}
	risks := c.sup.LiveRisks()
	out := make([]sessionRow, len(rows))
	for i, row := range rows {
		out[i] = sessionRow{SessionRow: row}
		if lr, ok := risks[row.ID]; ok {
			out[i].Live = &lr
		}
	}
	c.show(w, l, "sessions", out)
}

// sessionRow is a session in the list, with its risk while it is live.
type sessionRow struct {
	supervisor.SessionRow
	Live *supervisor.LiveRisk
}

// timelineView is a session, its events and whether its chain verifies.
type timelineView struct {
	Session   store.Session
	Events    []store.Event
	Approvals []store.Approval
	Verified  bool
	Broken    []store.Break
}

func (c *console) timelinePage(w http.ResponseWriter, r *http.Request, l login) {
	id := r.PathValue("id")
	st := c.sup.Store()
	sess, err := st.Session(r.Context(), id)
	if err != nil {
		fail(w, err)
		return
	}
	evs, err := st.Events(r.Context(), id)
	if err != nil {
		fail(w, err)
		return
	}
	approvals, err := st.Approvals(r.Context(), store.ApprovalFilter{Session: id})
	if err != nil {
		fail(w, err)
		return
	}
	rep, err := st.Verify(r.Context())
	if err != nil {
		fail(w, err)
		return
	}
	v := timelineView{Session: sess, Events: evs, Approvals: approvals, Verified: true}
	for _, b := range rep.Broken {
		if b.Session == id {
			v.Verified = false
			v.Broken = append(v.Broken, b)
		}
	}
	c.show(w, l, "timeline", v)
}

// approvalsView lists the held calls, oldest first, with what the webhook
// carried, and the latest decided ones.
type approvalsView struct {
	Pending []heldCall
	Decided []store.Approval
}

func (c *console) approvalsPage(w http.ResponseWriter, r *http.Request, l login) {
	st := c.sup.Store()
	pending, err := st.Approvals(r.Context(), store.ApprovalFilter{State: store.ApprovalPending})
	if err != nil {
		fail(w, err)
		return
	}
	all, err := st.Approvals(r.Context(), store.ApprovalFilter{Limit: maxListed})
	if err != nil {
		fail(w, err)
		return
	}
	// The oldest waiting first, as the live page adds new ones below:
	// a call held later never pushes the others down under the pointer.
	v := approvalsView{}
	for i := len(pending) - 1; i >= 0; i-- {
		v.Pending = append(v.Pending, c.held.of(pending[i]))
	}
	for _, a := range all {
		if a.State != store.ApprovalPending {
			v.Decided = append(v.Decided, a)
		}
	}
	c.show(w, l, "approvals", v)
}

func (c *console) agentsPage(w http.ResponseWriter, _ *http.Request, l login) {
	c.show(w, l, "agents", c.sup.Agents())
}

func (c *console) toolsPage(w http.ResponseWriter, _ *http.Request, l login) {
	c.show(w, l, "tools", c.sup.Tools())
}
