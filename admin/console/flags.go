package console

import (
	"net/http"

	"github.com/warden-dev/warden/store"
)

// flagsView is the review queue: the open flags, then the latest reviewed.
type flagsView struct {
	Open     []store.Flag
	Reviewed []store.Flag
}

func (c *console) flagsPage(w http.ResponseWriter, r *http.Request, l login) {
	st := c.sup.Store()
	open, err := st.Flags(r.Context(), store.FlagFilter{State: store.FlagOpen, Limit: maxListed})
	if err != nil {
		fail(w, err)
		return
	}
	reviewed, err := st.Flags(r.Context(), store.FlagFilter{State: store.FlagReviewed, Limit: maxListed})
	if err != nil {
		fail(w, err)
		return
	}
	c.show(w, l, "flags", flagsView{Open: open, Reviewed: reviewed})
}

// reviewFlag marks a flag reviewed with a note, as the admin API's review
// does, recorded under the operator's name.
func (c *console) reviewFlag(w http.ResponseWriter, r *http.Request, l login) {
	note := r.PostFormValue("note")
	if note == "" {
		http.Error(w, "a note is required: what the review found is recorded", http.StatusBadRequest)
		return
	}
	if _, err := c.sup.Store().ReviewFlag(r.Context(), r.PathValue("id"), l.operator, note); err != nil {
		fail(w, err)
		return
	}
	back(w, r, Prefix+"flags")
}
