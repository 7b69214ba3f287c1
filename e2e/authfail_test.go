package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/warden-dev/warden/internal/ocsfschema"
	"github.com/warden-dev/warden/ocsf"
	"github.com/warden-dev/warden/store"
)

// TestRefusedTokensAreRecorded: requests refused for a missing or unknown
// bearer token open no session, but are counted by address and recorded on
// the system log (at the latest when warden stops), without the tokens;
// the record exports as OCSF Authentication failures that validate.
func TestRefusedTokensAreRecorded(t *testing.T) {
	l := newLadder(t)
	const wrong = "not-a-token-of-anyone-0123456789"
	post := func(c *http.Client, token string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, l.URL, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401", res.StatusCode)
		}
	}
	one, two := clientFrom(t, "127.0.0.1"), clientFrom(t, "127.0.0.2")
	for range 3 {
		post(one, "")
	}
	post(one, wrong)
	post(one, wrong)
	post(two, wrong)
	l.Stop()

	db, err := store.Open(l.DBPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	evs, err := db.Events(context.Background(), store.SystemLog)
	if err != nil {
		t.Fatal(err)
	}
	var rec *store.Event
	for i := range evs {
		if evs[i].Kind == store.KindAuthFailures {
			if rec != nil {
				t.Fatal("two records for one window")
			}
			rec = &evs[i]
		}
	}
	if rec == nil {
		t.Fatalf("no %s record on the system log", store.KindAuthFailures)
	}
	if strings.Contains(string(rec.Data), wrong) {
		t.Fatal("the refused token is in the history")
	}
	var w store.AuthFailures
	if err := json.Unmarshal(rec.Data, &w); err != nil {
		t.Fatal(err)
	}
	got := map[string][2]int{}
	for _, a := range w.Addresses {
		got[a.Address] = [2]int{a.Missing, a.Invalid}
	}
	want := map[string][2]int{"127.0.0.1": {3, 2}, "127.0.0.2": {0, 1}}
	if len(got) != len(want) || got["127.0.0.1"] != want["127.0.0.1"] || got["127.0.0.2"] != want["127.0.0.2"] {
		t.Fatalf("counted %v, want %v", got, want)
	}
	sys, err := db.Session(context.Background(), store.SystemLog)
	if err != nil {
		t.Fatal(err)
	}
	schema, err := ocsfschema.Load(os.DirFS("../ocsf/testdata/ocsf-schema-" + ocsf.Version))
	if err != nil {
		t.Fatal(err)
	}
	lines := ocsf.Map(sys, *rec)
	if len(lines) != 3 {
		t.Fatalf("%d OCSF events, want 3 (one per address and reason)", len(lines))
	}
	for _, e := range lines {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		for _, err := range schema.Validate(b) {
			t.Errorf("%s: %v", b, err)
		}
		if e["class_uid"] != 3002 || e["status_detail"] == nil {
			t.Errorf("not an authentication failure: %s", b)
		}
	}
}
