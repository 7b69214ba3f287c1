// Package store is warden's durable session history: sessions, their
// hash-chained events and the pinned tool definitions. The Store interface
// is what the rest of warden codes against; DB implements it on a bbolt
// file, and a shared backend can implement it later.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Store is what warden needs of durable history. Every write returns only
// after it is fsync'd; concurrent writes share fsyncs (group commit).
type Store interface {
	// CreateSession records a new session; it fails if the id exists.
	CreateSession(ctx context.Context, s Session) error
	// UpdateSession reads the session, lets fn change it, and writes it
	// back, all in one durable transaction. An error from fn aborts the
	// update and is returned.
	UpdateSession(ctx context.Context, id string, fn func(*Session) error) error
	// Session returns one session; the error wraps ErrNotFound when missing.
	Session(ctx context.Context, id string) (Session, error)
	// Sessions lists the sessions that match f, newest (by Started) first.
	Sessions(ctx context.Context, f Filter) ([]Session, error)
	// Append adds ev to the session's chain and returns it as stored, with
	// Seq, Time, Prev and Hash set.
	Append(ctx context.Context, sessionID string, ev Event) (Event, error)
	// AppendWithData is Append that also sets the session's Data in the
	// same durable transaction.
	AppendWithData(ctx context.Context, sessionID string, ev Event, data json.RawMessage) (Event, error)
	// Events returns the session's events in order.
	Events(ctx context.Context, sessionID string) ([]Event, error)
	// Pin records hash as the definition of key and returns the hash it
	// had before ("" when key is first seen). A caller that gets a
	// non-empty previous different from hash has seen the definition change.
	Pin(ctx context.Context, key, hash string) (previous string, err error)
	// Verify recomputes every chain and reports the first broken event of each.
	Verify(ctx context.Context) (Report, error)
	// Close finishes the queued writes and releases the store.
	Close() error

	// CreateApproval records a pending approval; the error wraps ErrExists
	// if the id is taken.
	CreateApproval(ctx context.Context, a Approval) error
	// Approval returns one approval; the error wraps ErrNotFound when missing.
	Approval(ctx context.Context, id string) (Approval, error)
	// Approvals lists the approvals that match f, newest (by Created) first.
	Approvals(ctx context.Context, f ApprovalFilter) ([]Approval, error)
	// DecideApproval decides a pending, unexpired approval, exactly once;
	// otherwise the error wraps ErrDecided or ErrExpired.
	DecideApproval(ctx context.Context, id, decision, by string, now time.Time) (Approval, error)
	// ExpireApprovals marks pending approvals past Expires (all pending
	// ones if all) as expired and returns how many.
	ExpireApprovals(ctx context.Context, now time.Time, all bool) (int, error)
	// SetAgentSuspended records an agent as suspended or restored.
	SetAgentSuspended(ctx context.Context, rec AgentRecord) error
	// AgentRecords returns every recorded agent by name.
	AgentRecords(ctx context.Context) (map[string]AgentRecord, error)
	// ExpireApproval marks one pending approval expired, with a note.
	ExpireApproval(ctx context.Context, id, note string) (Approval, error)
	// Pinned returns the hash pinned for key, "" when none is.
	Pinned(ctx context.Context, key string) (string, error)
	// Flags lists the flags (flagged events) that match f, newest first.
	Flags(ctx context.Context, f FlagFilter) ([]Flag, error)
	// Flag returns one flag; the error wraps ErrNotFound when missing.
	Flag(ctx context.Context, id string) (Flag, error)
	// ReviewFlag records a flag's review, once; a second is ErrDecided.
	ReviewFlag(ctx context.Context, id, by, note string) (Flag, error)
}

// SystemLog is the chain for events that belong to no session, such as an
// upstream's tool definition changing. Append to it needs no CreateSession:
// its record is made on the first append. It is never listed by Sessions.
const SystemLog = "_system"

// Session states.
const (
	StateActive  = "active"
	StateEnded   = "ended"
	StateKilled  = "killed"
	StateExpired = "expired"
)

var (
	// ErrNotFound is wrapped by errors for a session that does not exist.
	ErrNotFound = errors.New("not found")
	// ErrClosed is returned by every call made after Close.
	ErrClosed = errors.New("store closed")
	// ErrExists is wrapped by CreateSession's error when the id is taken.
	ErrExists = errors.New("already exists")
)

// Session is one agent session as warden records it.
type Session struct {
	ID              string    `json:"id"`
	Agent           string    `json:"agent"`
	ClientName      string    `json:"client_name,omitempty"`
	ClientVersion   string    `json:"client_version,omitempty"`
	RemoteAddr      string    `json:"remote_addr,omitempty"`
	UserAgent       string    `json:"user_agent,omitempty"`
	ProtocolVersion string    `json:"protocol_version,omitempty"`
	Started         time.Time `json:"started"`
	// LastSeen is moved forward by Append to the time of each event.
	LastSeen time.Time `json:"last_seen"`
	// State is one of StateActive, StateEnded, StateKilled, StateExpired.
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
	// Data is opaque state owned by the supervisor (e.g. workflow position).
	Data json.RawMessage `json:"data,omitempty"`

	// LastSeq and Head are the seq and hash of the chain's last event, kept
	// by Append so that Verify can detect a truncated tail. They are owned
	// by the store: CreateSession and UpdateSession refuse to change them.
	LastSeq uint64 `json:"last_seq,omitempty"`
	Head    string `json:"head,omitempty"`
}

// Filter selects sessions for Sessions. Zero fields match everything.
type Filter struct {
	Agent string
	State string
	// Since and Until bound Started: Since <= Started < Until.
	Since, Until time.Time
	// Limit caps the number of sessions returned; 0 means no cap.
	Limit int
}

// Event kinds that warden writes. Kind is a free string; these are the
// ones the rest of warden agrees on.
const (
	KindSessionStart = "session_start"
	KindCall         = "call"
	KindResult       = "result"
	KindSessionEnd   = "session_end"
	KindToolChanged  = "tool_changed"
	// KindToolAccepted records an admin accepting a changed tool definition.
	KindToolAccepted = "tool_accepted"
	KindKill         = "kill"
	// KindApproval records how a held call's approval ended.
	KindApproval = "approval"
	// KindSignal records a change in a live session (address, user agent).
	KindSignal = "signal"
	// KindResourceRead and KindPromptGet record reads of resources and
	// prompts; their results are KindResult events.
	KindResourceRead = "resource_read"
	KindPromptGet    = "prompt_get"
	// KindCompletion records a completion/complete of a prompt's or a
	// resource template's argument; its result is a KindResult event.
	KindCompletion = "completion"
	// KindUpstreamSession records warden opening or closing the upstream
	// session that serves an agent session (Upstream names the upstream;
	// Data says what happened and why). A reopened upstream session starts
	// with none of the state the upstream kept for the earlier one.
	KindUpstreamSession = "upstream_session"
	// KindIntent records the agent framework declaring the session's
	// intent (Data) mid-session; one declared at initialize is in the
	// session_start event's Data.
	KindIntent = "intent"
	// KindJudgement records what the agent's LLM judge answered about a
	// call, before the call's own event: Data is the call as the judge saw
	// it, the answer, and the verdict before and after.
	KindJudgement = "judgement"
	// KindAuthFailures, on the system log, counts the requests refused
	// for a missing or unknown bearer token over a window, by address
	// (Data): a refused request opens no session, and one record per
	// window keeps a client without a token from filling the history.
	KindAuthFailures = "auth_failures"
)

// Event is one entry of a session's history. Its JSON field order is part
// of the canonical encoding that Hash covers (see chain.go): do not reorder
// or rename fields without migrating stored chains.
type Event struct {
	Seq       uint64          `json:"seq"`
	Session   string          `json:"session"`
	Time      time.Time       `json:"time"`
	Kind      string          `json:"kind"`
	CallID    string          `json:"call_id"`
	Upstream  string          `json:"upstream"`
	Tool      string          `json:"tool"`
	Args      json.RawMessage `json:"args"`
	Verdict   string          `json:"verdict"`
	Reasons   []string        `json:"reasons"`
	OK        bool            `json:"ok"`
	Error     string          `json:"error"`
	Size      int             `json:"size"`
	LatencyUS int64           `json:"latency_us"`
	Data      json.RawMessage `json:"data"`
	// DataSHA256 is set by AppendWithData: the digest of the session's
	// Data after this event (statedigest.go). Omitted when empty, so that
	// events stored before it existed encode, and hash, as they did.
	DataSHA256 string `json:"data_sha256,omitempty"`
	Prev       string `json:"prev"`
	Hash       string `json:"hash"`
}

// Report is what Verify found.
type Report struct {
	Sessions int // chains checked
	Events   int // events checked
	Pruned   int // sessions whose events were pruned, by a recorded prune
	// SessionLog says sessions and approvals were also checked against
	// the session log on the SystemLog chain (see WithSessionLog).
	SessionLog bool
	Broken     []Break // one per broken chain: its first broken event
	// Uncommitted counts sessions whose record has state (Data) that no
	// event commits to: chains written before events carried the
	// state's digest. Such a session is not resumed.
	Uncommitted int
}

// Break names the first broken event of a chain and why it is broken.
type Break struct {
	Session string
	Seq     uint64
	Reason  string
}
