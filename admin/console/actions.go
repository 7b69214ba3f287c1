package console

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/warden-dev/warden/store"
)

// Each action calls the supervisor operation the admin API's handler
// calls, with the signed-in operator as the actor, then sends the browser
// back to the page it came from.

// back redirects to a console path after an action.
func back(w http.ResponseWriter, r *http.Request, path string) {
	http.Redirect(w, r, path, http.StatusSeeOther)
}

func (c *console) killSession(w http.ResponseWriter, r *http.Request, l login) {
	id := r.PathValue("id")
	reason := r.PostFormValue("reason")
	if reason == "" {
		reason = "killed by " + l.operator + " from the console"
	}
	if err := c.sup.KillSession(r.Context(), id, reason, l.operator); err != nil {
		fail(w, err)
		return
	}
	back(w, r, Prefix+"sessions/"+url.PathEscape(id))
}

func (c *console) decide(w http.ResponseWriter, r *http.Request, l login) {
	if _, err := c.sup.DecideApproval(r.Context(), r.PathValue("id"), r.PostFormValue("decision"), l.operator); err != nil {
		fail(w, err)
		return
	}
	back(w, r, Prefix+"approvals")
}

func (c *console) agentAction(w http.ResponseWriter, r *http.Request, l login) {
	name := r.PathValue("name")
	reason := r.PostFormValue("reason")
	var err error
	switch r.PathValue("op") {
	case "suspend", "restore":
		suspend := r.PathValue("op") == "suspend"
		if reason == "" && suspend {
			reason = "suspended by " + l.operator + " from the console"
		}
		rec := store.AgentRecord{Name: name, Suspended: suspend, Reason: reason, By: l.operator}
		_, err = c.sup.SetSuspended(r.Context(), rec, suspend && r.PostFormValue("kill") == "on")
	case "kill":
		if reason == "" {
			reason = "every session of " + name + " killed by " + l.operator + " from the console"
		}
		_, err = c.sup.KillAgent(r.Context(), name, reason, l.operator)
	default:
		http.Error(w, fmt.Sprintf("no agent action %q: want suspend, restore or kill", r.PathValue("op")), http.StatusNotFound)
		return
	}
	if err != nil {
		fail(w, err)
		return
	}
	back(w, r, Prefix+"agents")
}

func (c *console) acceptTool(w http.ResponseWriter, r *http.Request, l login) {
	if err := c.sup.AcceptTool(r.Context(), r.PathValue("name"), l.operator); err != nil {
		fail(w, err)
		return
	}
	back(w, r, Prefix+"tools")
}
