package admin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"net/http"

	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
)

// The decision-link page. A GET only shows the held call and a button:
// link scanners and chat unfurlers open URLs on their own, and must not
// use up a single-use decision. The POST decides.
var linkPageTmpl = template.Must(template.New("decide").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>warden: approve a held call?</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 2em auto">
<h1>{{.Decision}}: {{.A.Agent}} → {{.A.Tool}}</h1>
<p>Session <code>{{.A.Session}}</code>, approval <code>{{.A.ID}}</code>, state <b>{{.A.State}}</b>, expires {{.A.Expires}}.</p>
<p>Why it was held:</p><ul>{{range .A.Reasons}}<li>{{.}}</li>{{end}}</ul>
<p>Arguments:</p><pre>{{printf "%s" .A.Args}}</pre>
{{if eq .A.State "pending"}}<form method="post" action="decide">
<input type="hidden" name="token" value="{{.Token}}">
<button type="submit">Confirm: {{.Decision}}</button></form>{{else}}<p>This call is no longer held.</p>{{end}}
</body></html>`))

func (s *server) linkToken(ctx context.Context, w http.ResponseWriter, token string) (store.Approval, string, bool) {
	id, decision, err := s.sup.VerifyLink(token)
	if errors.Is(err, supervisor.ErrNoLinks) {
		http.Error(w, err.Error(), http.StatusNotFound)
		return store.Approval{}, "", false
	}
	if err != nil {
		http.Error(w, "invalid decision link: "+err.Error(), http.StatusForbidden)
		return store.Approval{}, "", false
	}
	a, err := s.store.Approval(ctx, id)
	if err != nil {
		http.Error(w, "approval: "+err.Error(), StatusOf(err))
		return store.Approval{}, "", false
	}
	return a, decision, true
}

func (s *server) linkPage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	a, decision, ok := s.linkToken(r.Context(), w, token)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	_ = linkPageTmpl.Execute(w, map[string]any{"A": a, "Decision": decision, "Token": token})
}

func (s *server) linkDecide(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxAdminBody)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	a, decision, ok := s.linkToken(r.Context(), w, r.PostForm.Get("token"))
	if !ok {
		return
	}
	got, err := s.sup.DecideApproval(r.Context(), a.ID, decision, "decision link "+linkID(r.PostForm.Get("token")))
	switch {
	case errors.Is(err, store.ErrDecided):
		http.Error(w, fmt.Sprintf("already decided: %s by %s", got.Decision, got.DecidedBy), http.StatusConflict)
	case errors.Is(err, store.ErrExpired):
		http.Error(w, "expired: the call is no longer held", http.StatusGone)
	case err != nil:
		http.Error(w, err.Error(), StatusOf(err))
	default:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "decided: %s on %s's call of %s\n", got.Decision, got.Agent, got.Tool)
	}
}

// linkID names a decision link in the record without making it usable: a
// short digest of its token, to match against the webhook that carried it.
func linkID(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:4])
}
