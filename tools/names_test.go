package tools

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/warden-dev/warden/store"
)

// nameStep is one thing that happens to a hub in a naming scenario.
type nameStep struct {
	offer   string   // upstream whose tool list becomes tools (connected or resynced)
	tools   []string // its tools, when offer is set
	claim   bool     // every upstream made its first attempt (Start's first round is over)
	restart bool     // warden restarts on the same history file: no upstream is connected yet
	accept  string   // an admin accepts the tool now exposed under this name
}

func offerOf(up string, tools ...string) nameStep { return nameStep{offer: up, tools: tools} }

var (
	claimNames = nameStep{claim: true}
	restart    = nameStep{restart: true}
)

// TestToolNamesAreStable drives a hub's catalog through connects, resyncs
// and restarts on a real history file, and checks who holds each name.
func TestToolNamesAreStable(t *testing.T) {
	specs := []Spec{{Name: "a", URL: "http://127.0.0.1:1/mcp"}, {Name: "b", URL: "http://127.0.0.1:2/mcp"}}
	cases := []struct {
		name          string
		steps         []nameStep
		want          []string // "exposed=upstream/tool", "<-holder" when it moved
		wantTakeovers []string // "contender wants name held by holder, got exposed"
	}{{
		name: "earlier upstream adds a tool whose name a later one holds",
		steps: []nameStep{
			offerOf("a", "lookup"), offerOf("b", "issue_refund"), claimNames,
			offerOf("a", "lookup", "issue_refund"),
		},
		want:          []string{"a__issue_refund=a/issue_refund", "issue_refund=b/issue_refund", "lookup=a/lookup"},
		wantTakeovers: []string{"a/issue_refund wants issue_refund held by b/issue_refund, got a__issue_refund"},
	}, {
		name: "the takeover is refused after a restart too, whatever the connect order",
		steps: []nameStep{
			offerOf("a", "lookup"), offerOf("b", "issue_refund"), claimNames,
			offerOf("a", "lookup", "issue_refund"),
			restart, offerOf("a", "lookup", "issue_refund"), offerOf("b", "issue_refund"), claimNames,
		},
		want:          []string{"a__issue_refund=a/issue_refund", "issue_refund=b/issue_refund", "lookup=a/lookup"},
		wantTakeovers: []string{"a/issue_refund wants issue_refund held by b/issue_refund, got a__issue_refund"},
	}, {
		name:  "first start: the configuration order decides, not who connected first",
		steps: []nameStep{offerOf("b", "search"), offerOf("a", "search"), claimNames},
		want:  []string{"b__search=b/search", "search=a/search"},
	}, {
		name: "restart with the connect order reversed keeps the names",
		steps: []nameStep{
			offerOf("a", "search"), offerOf("b", "search"), claimNames,
			restart, offerOf("b", "search"), offerOf("a", "search"), claimNames,
		},
		want: []string{"b__search=b/search", "search=a/search"},
	}, {
		name: "a restart in which only the later upstream is up yet, then the earlier one connects",
		steps: []nameStep{
			offerOf("a", "search"), offerOf("b", "search"), claimNames,
			restart, offerOf("b", "search"), claimNames, offerOf("a", "search"),
		},
		want: []string{"b__search=b/search", "search=a/search"},
	}, {
		name: "the holder drops the tool and takes it back: the name is still its own",
		steps: []nameStep{
			offerOf("a", "lookup"), offerOf("b", "issue_refund"), claimNames,
			offerOf("b"), offerOf("b", "issue_refund"),
		},
		want: []string{"issue_refund=b/issue_refund", "lookup=a/lookup"},
	}, {
		name: "the holder drops the tool and another upstream adds it: a move",
		steps: []nameStep{
			offerOf("a", "lookup"), offerOf("b", "issue_refund"), claimNames,
			offerOf("b"), offerOf("a", "lookup", "issue_refund"),
		},
		want: []string{"issue_refund=a/issue_refund<-b/issue_refund", "lookup=a/lookup"},
	}, {
		name: "a move stays a move after a restart until it is accepted",
		steps: []nameStep{
			offerOf("a", "lookup"), offerOf("b", "issue_refund"), claimNames,
			offerOf("b"), offerOf("a", "lookup", "issue_refund"),
			restart, offerOf("a", "lookup", "issue_refund"), claimNames,
		},
		want: []string{"issue_refund=a/issue_refund<-b/issue_refund", "lookup=a/lookup"},
	}, {
		name: "the old holder comes back before the move is accepted: the name is its own again",
		steps: []nameStep{
			offerOf("a", "lookup"), offerOf("b", "issue_refund"), claimNames,
			offerOf("b"), offerOf("a", "lookup", "issue_refund"), offerOf("b", "issue_refund"),
		},
		want:          []string{"a__issue_refund=a/issue_refund", "issue_refund=b/issue_refund", "lookup=a/lookup"},
		wantTakeovers: []string{"a/issue_refund wants issue_refund held by b/issue_refund, got a__issue_refund"},
	}, {
		name: "an accepted move is the new holder's, after a restart too",
		steps: []nameStep{
			offerOf("a", "lookup"), offerOf("b", "issue_refund"), claimNames,
			offerOf("b"), offerOf("a", "lookup", "issue_refund"), {accept: "issue_refund"},
			offerOf("b", "issue_refund"),
			restart, offerOf("b", "issue_refund"), offerOf("a", "lookup", "issue_refund"), claimNames,
		},
		want: []string{"b__issue_refund=b/issue_refund", "issue_refund=a/issue_refund", "lookup=a/lookup"},
	}, {
		name: "a tool that already has its other name keeps it when its first name frees up",
		steps: []nameStep{
			offerOf("a", "search"), offerOf("b", "search"), claimNames,
			offerOf("a"),
		},
		want: []string{"b__search=b/search"},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "warden.db")
			h, db := namingHub(t, specs, path)
			for _, st := range tc.steps {
				switch {
				case st.restart:
					// One history file is open once at a time, as in warden.
					if err := db.Close(); err != nil {
						t.Fatal(err)
					}
					h, db = namingHub(t, specs, path)
				case st.claim:
					h.startClaiming()
				case st.accept != "":
					if err := h.AcceptName(context.Background(), st.accept); err != nil {
						t.Fatal(err)
					}
				default:
					setOffer(h, st.offer, st.tools)
				}
			}
			got, takeovers := describeNames(h.Catalog())
			if !slices.Equal(got, tc.want) {
				t.Errorf("names = %q\nwant    %q", got, tc.want)
			}
			if !slices.Equal(takeovers, tc.wantTakeovers) {
				t.Errorf("takeovers = %q\nwant        %q", takeovers, tc.wantTakeovers)
			}
		})
	}
}

// TestUnreadableNamePinStepsUp: when who holds a name cannot be read, the
// tool that gets the name is treated as having moved it (fail closed).
func TestUnreadableNamePinStepsUp(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "warden.db"))
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHub([]Spec{{Name: "a", URL: "http://127.0.0.1:1/mcp"}}, Options{Names: db})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	setOffer(h, "a", []string{"search"})
	got, _ := describeNames(h.Catalog())
	if want := []string{"search=a/search<-?"}; !slices.Equal(got, want) {
		t.Fatalf("names = %q, want %q", got, want)
	}
}

// namingHub is a hub on the history file at path, with no upstream
// connected: its offers are set by the test, as refresh would.
func namingHub(t *testing.T, specs []Spec, path string) (*Hub, *store.DB) {
	t.Helper()
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	h, err := NewHub(specs, Options{Names: db})
	if err != nil {
		t.Fatal(err)
	}
	return h, db
}

// setOffer is what refresh does when an upstream lists its tools.
func setOffer(h *Hub, up string, names []string) {
	u := h.upstreams().byName[up]
	var o offer
	for _, n := range names {
		o.tools = append(o.tools, mcp.NewTool(n, mcp.WithDescription(up+"'s "+n)))
	}
	u.mu.Lock()
	u.offer = o
	u.mu.Unlock()
	h.catalogChanged()
}

func describeNames(c *Catalog) (names, takeovers []string) {
	for _, t := range c.Tools {
		s := t.Def.Name + "=" + holderOf(t.Upstream, t.Name)
		if t.MovedFrom != "" {
			s += "<-" + t.MovedFrom
		}
		names = append(names, s)
	}
	slices.Sort(names)
	for _, to := range c.Takeovers {
		takeovers = append(takeovers, fmt.Sprintf("%s wants %s held by %s, got %s", holderOf(to.Upstream, to.Tool), to.Name, to.Holder, to.Exposed))
	}
	return names, takeovers
}
