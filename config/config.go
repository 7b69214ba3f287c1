// Package config loads warden's YAML configuration (for warden serve,
// warden stdio and warden validate). Every problem found is reported with
// the file, line and column of the offending node, and all problems are
// reported at once so a user can fix a file in one pass.
package config

import (
	"time"

	"github.com/goccy/go-yaml/ast"
)

// Config is a loaded, defaulted and validated warden configuration.
// Durations are time.Duration and paths are absolute.
type Config struct {
	// File is the absolute path of the file the config was read from.
	File string
	// Listen is the host:port of the MCP endpoint (served at /mcp).
	Listen string
	// AllowedHosts are Host header names accepted besides the loopback names.
	AllowedHosts []string
	// AllowedOrigins are the Origin header values accepted.
	AllowedOrigins []string
	// MaxBodyBytes limits a request body; larger requests get 413.
	MaxBodyBytes int64
	// SessionIdleTTL is how long an idle MCP session lives.
	SessionIdleTTL time.Duration
	// CallTimeout bounds one tool call unless an upstream overrides it.
	CallTimeout time.Duration
	// DataDir holds the bbolt file (DBPath).
	DataDir string
	// Log says how warden logs.
	Log Log
	// Admin configures the admin API; nil means there is none.
	Admin *Admin
	// Approvals configures step-up approvals; never nil after Parse.
	Approvals *Approvals
	// Throttle holds the rate limits; never nil after Parse (its nil Rates
	// mean no limit).
	Throttle *Throttle
	// Revalidation says how to answer a session whose client address or
	// user agent changes.
	Revalidation Revalidation
	// Network names the trusted proxies and the geolocation databases.
	Network Network
	// Retention is the history retention policy; nil keeps all history.
	Retention *Retention
	// Limits bound each agent's sessions, session openings and pending
	// approvals; never nil after Parse.
	Limits *Limits
	// Anchor configures signed checkpoints of the chain heads; nil for none.
	Anchor *Anchor
	// Export configures live export of the history; nil for none.
	Export *Export
	// Store says where the history is kept (bbolt in DataDir by default).
	Store Store
	// Tracing configures OpenTelemetry traces; nil for none (the default).
	Tracing *Tracing
	// Rules is the absolute path of the global rules file (expr rules on
	// every call of every agent), or "".
	Rules string
	// Upstreams are the MCP tool servers warden connects to, in file order.
	Upstreams []*Upstream
	// Agents are the agents allowed to connect, in file order.
	Agents []*Agent
}

// Log configures logging.
type Log struct {
	Level  string // debug, info, warn or error
	Format string // text or json
}

// Admin configures the admin API.
type Admin struct {
	// Listen is the admin API's host:port.
	Listen string
	// TokenSHA256 is the lowercase hex SHA-256 of the admin token; "" when
	// TokensOptional let its unset token_env pass.
	TokenSHA256 string
	// TokenEnv is the variable token_env named; "" with token_sha256.
	TokenEnv string
	// TokenFile is the absolute path of the file the token was read
	// from, or "": a reload reads it again.
	TokenFile string
	// Tokens are named admin tokens for the web console (admin.tokens).
	Tokens []AdminToken
}

// Transport names how warden reaches an upstream.
type Transport string

// The transports an upstream may use.
const (
	TransportStdio Transport = "stdio" // a child process speaking MCP on stdin/stdout
	TransportHTTP  Transport = "http"  // Streamable HTTP
	TransportSSE   Transport = "sse"   // the older HTTP+SSE transport
)

// Upstream is one MCP tool server.
type Upstream struct {
	// Name is unique and matches [a-z0-9][a-z0-9_-]*.
	Name string
	// Transport says which of Stdio or Remote is set.
	Transport Transport
	// Stdio is set when Transport is TransportStdio.
	Stdio *Stdio
	// Remote is set when Transport is TransportHTTP or TransportSSE.
	Remote *Remote
	// ToolPrefix is prepended to this upstream's tool names as agents see them.
	ToolPrefix string
	// CallTimeout is the upstream's own timeout or else the global one.
	CallTimeout time.Duration
	// ValidateArgs says how calls' arguments are checked before they are
	// decided: ArgsSchema (the default) or ArgsKeysOnly.
	ValidateArgs ArgValidation
	// Sessions says which agent sessions share an upstream session:
	// SessionsPerSession (the default for http and sse), SessionsPerAgent
	// (the default for stdio, where a session costs a process) or
	// SessionsShared.
	Sessions SessionSharing
	// MaxSessions caps the upstream sessions (for stdio, processes) open
	// at once for agents. The three fields below are defaulted for the
	// transport, and zero under SessionsShared, where they do not apply.
	MaxSessions int
	// SessionIdleTimeout closes an agent's upstream session that carried
	// no request for this long.
	SessionIdleTimeout time.Duration
	// SpareSessions is how many upstream sessions are opened ahead of
	// need, always fewer than MaxSessions.
	SpareSessions int
}

// SessionSharing is how an upstream's sessions map to agent sessions.
// Whoever shares an upstream session shares the server's per-session
// state: resources a tool registered, a browser's pages, a shell's
// directory, a logging level, subscriptions.
type SessionSharing string

// The ways an upstream's sessions may be shared.
const (
	SessionsPerSession SessionSharing = "per_session" // each agent session has its own
	SessionsPerAgent   SessionSharing = "per_agent"   // an agent's sessions share one
	SessionsShared     SessionSharing = "shared"      // all agents share one: stateless servers only
)

// ArgValidation is how far warden checks a call's arguments.
type ArgValidation string

// The argument checks an upstream may ask for. Keys that repeat or fold
// together are refused under both.
const (
	ArgsSchema   ArgValidation = "schema"    // and validated against the tool's input schema
	ArgsKeysOnly ArgValidation = "keys_only" // keys only; the schema is not enforced
)

// Stdio is how to start an upstream as a child process. Args and Env
// values may hold secrets expanded from the environment.
type Stdio struct {
	Command string            // program to run, looked up in PATH when not a path
	Args    []string          // its arguments, ${VAR} expanded
	Env     map[string]string // extra environment, ${VAR} expanded in values
	Dir     string            // absolute working directory; "" means warden's own
}

// Remote is how to reach an upstream over HTTP. Header values may hold
// secrets expanded from the environment.
type Remote struct {
	URL     string            // http or https
	Headers map[string]string // sent with every request, ${VAR} expanded in values
}

// Agent is one agent allowed to connect.
type Agent struct {
	// Name is unique and matches [a-z0-9][a-z0-9_-]*.
	Name string
	// TokenSHA256 is the lowercase hex SHA-256 of the agent's bearer token;
	// "" (matching nothing) when TokensOptional let its unset token_env pass.
	TokenSHA256 string
	// TokenFile is the absolute path of the file the token was read
	// from, or "": a reload reads it again.
	TokenFile string
	// Upstreams are the names of the upstreams whose tools the agent may see.
	Upstreams []string
	// Tools are path.Match patterns over exposed tool names.
	Tools []string
	// Resources are glob patterns over resource URIs (* matches any run of
	// characters, '/' included) and Prompts path.Match patterns over prompt
	// names: what the agent may read and get. When omitted they follow
	// tools: all ("*") for an agent whose tools are not restricted (omitted
	// or containing "*"), none for one whose are, so that no route reaches
	// what tools: kept out.
	// Never nil after loading; empty means none.
	Resources []string
	Prompts   []string
	// Workflow is the absolute path of the agent's workflow file, or "".
	Workflow string
	// Throttle is this agent's per-session limit, overriding
	// Config.Throttle.Session; nil means no override.
	Throttle *Rate
	// Retention overrides Config.Retention's limits for this agent; nil
	// means none.
	Retention *AgentRetention
	// RecordResults says whether this agent's tool results are recorded
	// in full or as a digest; Default is always set.
	RecordResults RecordResults
	// Budgets cap this agent's calls of some tools per window, across its
	// sessions.
	Budgets []Budget
	// Judge, when set, is the model asked whether this agent's calls are
	// consistent with the session's declared intent; nil for none.
	Judge *Judge

	retentionAt ast.Node // where Retention was set, for messages

	hash [32]byte // decoded TokenSHA256, for constant-time comparison
}
