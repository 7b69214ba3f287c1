package tools

import (
	"context"
	"sync"

	"github.com/charmbracelet/log"
	"github.com/mark3labs/mcp-go/mcp"
)

// NameStore keeps which upstream tool holds each exposed name, durably, so
// that a restart gives the same names. store.Store satisfies it: names are
// pinned next to tool definitions.
type NameStore interface {
	// Pin records value under key and returns what was there before.
	Pin(ctx context.Context, key, value string) (previous string, err error)
	// Pinned returns the value under key, "" when there is none.
	Pinned(ctx context.Context, key string) (string, error)
}

// Takeover is an upstream offering a tool under a name that, by
// configuration order, would be its own, while a tool of an upstream listed
// later already holds it. The name stays with its holder: without that, a
// second upstream could take over a tool agents already use.
type Takeover struct {
	Name     string // the contested exposed name
	Upstream string // the contender
	Tool     string // the contender's own name for its tool
	Exposed  string // the name the contender's tool got instead ("" for none)
	Holder   string // "upstream/tool" that keeps Name
}

// unknownHolder stands for a name whose pin could not be read: whoever
// gets the name is treated as having moved it (fail closed).
const unknownHolder = "?"

func nameKey(exposed string) string { return "name:" + exposed }

// holderOf names an upstream's tool in a name pin. Upstream names hold no
// "/", so this is unambiguous.
func holderOf(upstream, tool string) string { return upstream + "/" + tool }

// offered is one upstream tool, in configuration order.
type offered struct {
	rank int // the upstream's place in the configuration
	spec Spec
	def  mcp.Tool
}

func (o offered) holder() string { return holderOf(o.spec.Name, o.def.Name) }

// candidates are the names a tool can be exposed under, preferred first.
func (o offered) candidates() [2]string {
	return [2]string{o.spec.Prefix + o.def.Name, o.spec.Name + "__" + o.def.Name}
}

// naming is how a set of offered tools is named.
type naming struct {
	exposed   []string          // by offer; "" when the tool gets no name
	movedFrom []string          // by offer; the pinned holder when the name moved to this tool
	claims    map[string]string // names given out that nobody held: exposed → holder
	takeovers []Takeover
}

// nameTools names offered tools (in configuration order) so that names are
// stable: a pinned name stays with its holder while the holder offers the
// tool; the other tools get, in configuration order, their preferred name
// if free, else "<upstream>__<name>". A name whose holder no longer offers
// it can go to another tool, which is then a move (movedFrom is set) until
// the new holder is pinned. The outcome depends only on the pins and the
// offers, not on the order in which upstreams connected.
func nameTools(ctx context.Context, pins NameStore, logger *log.Logger, offers []offered) naming {
	n := naming{exposed: make([]string, len(offers)), movedFrom: make([]string, len(offers)), claims: map[string]string{}}
	read := map[string]string{}
	held := func(name string) string {
		if h, ok := read[name]; ok {
			return h
		}
		h, err := pins.Pinned(ctx, nameKey(name))
		if err != nil {
			logger.Error("cannot read who holds a tool name; whoever gets it steps up", "name", name, "err", err)
			h = unknownHolder
		}
		read[name] = h
		return h
	}
	owner := map[string]int{} // exposed → offer
	live := map[string]bool{}
	for _, o := range offers {
		live[o.holder()] = true
	}
	give := func(i int, name string) {
		n.exposed[i] = name
		owner[name] = i
	}
	// Holders keep their names first, whatever the configuration order.
	for i, o := range offers {
		for _, c := range o.candidates() {
			if _, taken := owner[c]; !taken && held(c) == o.holder() {
				give(i, c)
				break
			}
		}
	}
	for i, o := range offers {
		if n.exposed[i] != "" {
			continue
		}
		for _, c := range o.candidates() {
			if _, taken := owner[c]; taken {
				continue
			}
			switch h := held(c); {
			case h == "":
				n.claims[c] = o.holder()
			case live[h]:
				continue // its holder offers it still, under its other name
			default:
				n.movedFrom[i] = h
			}
			give(i, c)
			break
		}
		if n.exposed[i] == "" {
			logger.Warn("a tool's names are all taken; it is not exposed", "upstream", o.spec.Name, "tool", o.def.Name)
		}
	}
	for i, o := range offers {
		want := o.candidates()[0]
		if j, ok := owner[want]; ok && j != i && offers[j].rank > o.rank {
			n.takeovers = append(n.takeovers, Takeover{Name: want, Upstream: o.spec.Name, Tool: o.def.Name,
				Exposed: n.exposed[i], Holder: offers[j].holder()})
		}
	}
	return n
}

// memNames is the NameStore when none is given: names then hold for the
// life of the process only.
type memNames struct {
	mu sync.Mutex
	m  map[string]string
}

func (s *memNames) Pin(_ context.Context, key, value string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	prev := s.m[key]
	s.m[key] = value
	return prev, nil
}

func (s *memNames) Pinned(_ context.Context, key string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[key], nil
}
