package tools

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/charmbracelet/log"
	"github.com/mark3labs/mcp-go/mcp"
)

// Catalog is a snapshot of what all upstreams offer, under the names agents
// see. It is immutable; the hub publishes a new one on every change.
//
// Naming rule: a tool (or prompt) is exposed as its upstream's Prefix
// followed by its own name. When that name is already taken by an upstream
// listed earlier in the configuration, the later one is exposed as
// "<upstream>__<name>" instead, so that the first upstream's names never
// change when another upstream is added. Tool names are also stable: a
// name, once held, stays with its holder while the holder offers the tool
// (see nameTools), so an upstream that adds a tool later cannot take over a
// name agents already use.
type Catalog struct {
	Tools     []Tool
	Resources []Resource
	Templates []Template
	Prompts   []Prompt
	// Takeovers are the tools refused a name held by a later upstream.
	Takeovers []Takeover

	tools   map[string]int
	prompts map[string]int
	uris    map[string]int
}

// Tool is one upstream tool as agents see it.
type Tool struct {
	Upstream string
	Name     string   // the upstream's own name
	Def      mcp.Tool // Def.Name is the exposed name
	// Hash is the hex SHA-256 of the upstream's definition, for pinning.
	Hash string
	// MovedFrom is set when the exposed name is pinned to another tool
	// ("upstream/tool", or "?" when the pin could not be read): the name
	// moved to this tool, a possible rug pull, until AcceptName.
	MovedFrom string
}

// Resource is one upstream resource.
type Resource struct {
	Upstream string
	Def      mcp.Resource
}

// Template is one upstream resource template.
type Template struct {
	Upstream string
	Def      mcp.ResourceTemplate
}

// Prompt is one upstream prompt as agents see it.
type Prompt struct {
	Upstream string
	Name     string     // the upstream's own name
	Def      mcp.Prompt // Def.Name is the exposed name
}

// Tool finds a tool by its exposed name.
func (c *Catalog) Tool(exposed string) (Tool, bool) {
	i, ok := c.tools[exposed]
	if !ok {
		return Tool{}, false
	}
	return c.Tools[i], true
}

// Prompt finds a prompt by its exposed name.
func (c *Catalog) Prompt(exposed string) (Prompt, bool) {
	i, ok := c.prompts[exposed]
	if !ok {
		return Prompt{}, false
	}
	return c.Prompts[i], true
}

// ResourceUpstream names the upstream that serves a listed resource URI.
func (c *Catalog) ResourceUpstream(uri string) (string, bool) {
	i, ok := c.uris[uri]
	if !ok {
		return "", false
	}
	return c.Resources[i].Upstream, true
}

// source is what one upstream offers, for a catalog.
type source struct {
	spec  Spec
	offer offer
}

// sources are the upstreams' offers. A disconnected upstream keeps its
// last offer: a call in the outage then gets "reconnecting", not "no such
// tool".
func sources(ups []*upstream) []source {
	out := make([]source, len(ups))
	for i, u := range ups {
		out[i] = source{spec: u.spec, offer: u.snapshot()}
	}
	return out
}

// buildCatalog merges the offers of upstreams, in configuration order, and
// returns the tool names it gave out that nobody held (to be pinned).
func buildCatalog(ctx context.Context, srcs []source, pins NameStore, logger *log.Logger) (*Catalog, map[string]string) {
	c := &Catalog{tools: map[string]int{}, prompts: map[string]int{}, uris: map[string]int{}}
	var tools []offered
	for i, src := range srcs {
		for _, t := range src.offer.tools {
			tools = append(tools, offered{rank: i, spec: src.spec, def: t})
		}
	}
	n := nameTools(ctx, pins, logger, tools)
	for i, o := range tools {
		if n.exposed[i] == "" {
			continue
		}
		def := o.def
		def.Name = n.exposed[i]
		c.tools[def.Name] = len(c.Tools)
		c.Tools = append(c.Tools, Tool{Upstream: o.spec.Name, Name: o.def.Name, Def: def, Hash: hashTool(o.def), MovedFrom: n.movedFrom[i]})
	}
	c.Takeovers = n.takeovers
	for _, src := range srcs {
		o, u := src.offer, src
		for _, p := range o.prompts {
			name := exposedName(c.prompts, u.spec, p.Name)
			def := p
			def.Name = name
			c.prompts[name] = len(c.Prompts)
			c.Prompts = append(c.Prompts, Prompt{Upstream: u.spec.Name, Name: p.Name, Def: def})
		}
		for _, r := range o.resources {
			if _, taken := c.uris[r.URI]; taken {
				continue // the first upstream to list a URI serves it
			}
			c.uris[r.URI] = len(c.Resources)
			c.Resources = append(c.Resources, Resource{Upstream: u.spec.Name, Def: r})
		}
		for _, t := range o.templates {
			c.Templates = append(c.Templates, Template{Upstream: u.spec.Name, Def: t})
		}
	}
	return c, n.claims
}

func exposedName[T any](taken map[string]T, spec Spec, name string) string {
	exposed := spec.Prefix + name
	if _, clash := taken[exposed]; clash {
		exposed = spec.Name + "__" + name
	}
	return exposed
}

// hashTool pins a definition: any change an upstream makes to a tool's
// name, description or schemas changes the hash.
func hashTool(t mcp.Tool) string {
	b, err := json.Marshal(t)
	if err != nil {
		// A definition that cannot be encoded still gets a stable, distinct pin.
		b = []byte("unencodable:" + t.Name)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
