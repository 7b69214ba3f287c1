package supervisor

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"slices"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/warden-dev/warden/eval"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/tools"
	"github.com/warden-dev/warden/workflows"
)

// Agent is one identity allowed to connect, and what it may see.
type Agent struct {
	Name string
	// TokenSHA256 is the hex SHA-256 of the agent's bearer token; the token
	// itself is never kept.
	TokenSHA256 string
	// LocalTokenSHA256, if set, is the hash of a second token that also
	// authenticates the agent: the one `warden serve` gives, through its
	// data directory, to a `warden stdio` bridge on the same machine.
	LocalTokenSHA256 string
	// Upstreams limits the agent to these upstreams' tools; empty means all.
	Upstreams []string
	// Tools are path.Match patterns over exposed tool names; empty means all.
	Tools []string
	// Resources are glob patterns over resource URIs (workflows.Glob: *
	// crosses '/'), Prompts path.Match patterns over prompt names. nil
	// means all for an agent whose Tools are unrestricted (empty or "*")
	// and none otherwise; an empty, non-nil list means none.
	Resources []string
	Prompts   []string
	// DigestResults, if set, says which tools' results are recorded as a
	// digest (size and SHA-256) instead of their content.
	DigestResults func(tool string) bool
	// KeepWithheld records the results that a result rule withheld from
	// the agent in clear, like any other. By default history keeps only
	// their digest and the rules that fired: what a rule withholds is
	// often a secret, and history is read by more people than the agent.
	KeepWithheld bool
	// Judge, when set, is asked about the agent's calls that turn on the
	// declared intent (see eval.Judge); JudgeBounds says how far it may
	// move a verdict.
	Judge       *eval.Judge
	JudgeBounds eval.Bounds
}

// resultData is what history keeps of a result of tool whose text is
// text (allText): its content, or its digest when the agent's policy says
// so (high-volume tools, whose content would dominate the history's size).
func (a *Agent) resultData(tool string, res *mcp.CallToolResult, text string) json.RawMessage {
	if a == nil || a.DigestResults == nil || !a.DigestResults(tool) {
		return resultData(res, text)
	}
	out, _ := json.Marshal(resultDigest(res))
	return out
}

// withheld rewrites the record of a result that result rules withheld,
// unless the agent's policy keeps those in clear: the content and the
// error text (which repeats it) give way to the digest and the rules.
func (a *Agent) withheld(ev *store.Event, res *mcp.CallToolResult, rules []string) {
	if a != nil && a.KeepWithheld {
		return
	}
	rec := resultDigest(res)
	rec.Withheld, rec.Rules = true, rules
	ev.Data, _ = json.Marshal(rec)
	if ev.Error != "" {
		ev.Error = "withheld by a result rule; its digest is recorded"
	}
}

// resultDigest is the record of a result by its size and the SHA-256 of
// its JSON, as the agent would have received it.
func resultDigest(res *mcp.CallToolResult) ResultRecord {
	b, err := json.Marshal(res)
	if err != nil {
		b = []byte(allText(res))
	}
	sum := sha256.Sum256(b)
	return ResultRecord{SHA256: hex.EncodeToString(sum[:]), Bytes: len(b)}
}

// sees reports whether the agent may list and call a tool.
func (a *Agent) sees(t tools.Tool) bool {
	if len(a.Upstreams) > 0 && !slices.Contains(a.Upstreams, t.Upstream) {
		return false
	}
	return a.matchesTool(t.Def.Name)
}

func (a *Agent) matchesTool(name string) bool {
	if len(a.Tools) == 0 {
		return true
	}
	for _, p := range a.Tools {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// seesRoute reports whether the agent's patterns let it read a resource
// URI or get a prompt (kind) of an upstream.
func (a *Agent) seesRoute(kind, upstream, name string) bool {
	switch kind {
	case workflows.KindResource:
		return a.seesResource(upstream, name)
	case workflows.KindPrompt:
		return a.seesPrompt(upstream, name)
	}
	return false
}

// seesResource reports whether the agent's patterns let it read a
// resource URI of an upstream.
func (a *Agent) seesResource(upstream, uri string) bool {
	return a.seesUpstream(upstream) && a.routeAllows(a.Resources, func(p string) bool { return workflows.Glob(p, uri) })
}

// seesTemplate reports whether the agent's patterns could let it read
// some URI of a resource template of an upstream.
func (a *Agent) seesTemplate(upstream, template string) bool {
	return a.seesUpstream(upstream) && a.routeAllows(a.Resources, func(p string) bool { return workflows.TemplateMayMatch(p, template) })
}

// seesPrompt reports whether the agent's patterns let it get a prompt of
// an upstream.
func (a *Agent) seesPrompt(upstream, name string) bool {
	return a.seesUpstream(upstream) && a.routeAllows(a.Prompts, func(p string) bool { ok, _ := path.Match(p, name); return ok })
}

// routeAllows applies resource or prompt patterns. nil patterns follow
// Tools: all for an agent whose tools are unrestricted (empty, or "*"),
// none otherwise.
func (a *Agent) routeAllows(patterns []string, match func(string) bool) bool {
	if patterns == nil {
		return len(a.Tools) == 0 || slices.Contains(a.Tools, "*")
	}
	return slices.ContainsFunc(patterns, match)
}

// seesUpstream reports whether the agent may use an upstream's resources
// and prompts.
func (a *Agent) seesUpstream(name string) bool {
	return len(a.Upstreams) == 0 || slices.Contains(a.Upstreams, name)
}

// agents authenticates bearer tokens.
type agents struct {
	list   []*Agent
	hashes [][sha256.Size]byte
	owners []int  // hashes[i] is list[owners[i]]'s
	local  []bool // hashes[i] is a local token's
}

func newAgents(list []Agent) (*agents, error) {
	a := &agents{}
	seen := map[string]bool{}
	for i := range list {
		ag := list[i]
		if ag.Name == "" {
			return nil, fmt.Errorf("agent %d has no name", i+1)
		}
		if seen[ag.Name] {
			return nil, fmt.Errorf("agent %q is named twice", ag.Name)
		}
		seen[ag.Name] = true
		for j, hx := range []string{ag.TokenSHA256, ag.LocalTokenSHA256} {
			if j > 0 && hx == "" {
				continue // no local token
			}
			raw, err := hex.DecodeString(hx)
			if err != nil || len(raw) != sha256.Size {
				return nil, fmt.Errorf("agent %q: token hash is not 64 hex digits", ag.Name)
			}
			a.hashes = append(a.hashes, [sha256.Size]byte(raw))
			a.owners = append(a.owners, len(a.list))
			a.local = append(a.local, j > 0)
		}
		a.list = append(a.list, &ag)
	}
	return a, nil
}

// byToken finds the agent whose token this is. Every stored hash is
// compared, in constant time, so the time taken does not say which agent
// matched or how much of a hash did.
func (a *agents) byToken(token string) (*Agent, bool) {
	ag, _, ok := a.match(token)
	return ag, ok
}

// match is byToken that also says whether the token is the agent's local
// one.
func (a *agents) match(token string) (ag *Agent, local, ok bool) {
	if token == "" {
		return nil, false, false
	}
	sum := sha256.Sum256([]byte(token))
	found := -1
	for i := range a.hashes {
		if subtle.ConstantTimeCompare(sum[:], a.hashes[i][:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return nil, false, false
	}
	return a.list[a.owners[found]], a.local[found], true
}

func (a *agents) byName(name string) (*Agent, bool) {
	for _, ag := range a.list {
		if ag.Name == name {
			return ag, true
		}
	}
	return nil, false
}
