package notify

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/warden-dev/warden/store"
)

// Message types: the value of Message.Type and of the Warden-Event header.
const (
	TypeApprovalRequested = "approval.requested"
	TypeApprovalDecided   = "approval.decided"
	TypeSessionKilled     = "session.killed"
	TypeCallFlagged       = "call.flagged"
	// TypeAnchorCheckpoint carries a signed checkpoint of the history's
	// chain heads (Message.Checkpoint), for an operator's external anchor.
	TypeAnchorCheckpoint = "anchor.checkpoint"
)

// Message is what approvers and alert receivers are sent. Its JSON
// encoding is warden's webhook payload.
type Message struct {
	// Type is one of the Type constants.
	Type string    `json:"type"`
	Time time.Time `json:"time"`
	// Approval is the held call (approval.requested) or the decision
	// (approval.decided); nil for other types.
	Approval   *store.Approval `json:"approval,omitempty"`
	Session    string          `json:"session,omitempty"`
	Agent      string          `json:"agent,omitempty"`
	RemoteAddr string          `json:"remote_addr,omitempty"`
	Client     string          `json:"client,omitempty"`
	// Intent is the user's request that the agent framework declared for
	// the session, if any: what the approver weighs the call against.
	Intent string `json:"intent,omitempty"`
	// Provenance is where each argument of the held call came from
	// ("intent", "result:<tool>.<field>", "text:<tool>"; empty for a
	// value that appeared nowhere), when the policy tracks it.
	Provenance map[string][]string `json:"provenance,omitempty"`
	// Risk is the session's risk when the message was sent, and Signals
	// the evidence behind it, oldest first.
	Risk    float64  `json:"risk,omitempty"`
	Signals []string `json:"signals,omitempty"`
	Reasons []string `json:"reasons,omitempty"`
	// Recent are the session's last calls, oldest first.
	Recent []RecentCall `json:"recent,omitempty"`
	// Links maps a decision name (store.DecisionOnce, ...) to a signed,
	// single-use URL that makes it.
	Links map[string]string `json:"links,omitempty"`
	// Checkpoint is the anchor.checkpoint's checkpoint; nil for other types.
	Checkpoint *store.Checkpoint `json:"checkpoint,omitempty"`
	// Text is a one-line human summary.
	Text string `json:"text"`
}

// RecentCall is one of a session's last calls and its verdict.
type RecentCall struct {
	Tool    string    `json:"tool"`
	Verdict string    `json:"verdict"`
	Time    time.Time `json:"time"`
}

func validType(t string) bool {
	switch t {
	case TypeApprovalRequested, TypeApprovalDecided, TypeSessionKilled, TypeCallFlagged, TypeAnchorCheckpoint:
		return true
	}
	return false
}

// body returns the request body for m: warden's JSON, or Slack's shape.
func body(m Message, slack bool) ([]byte, error) {
	if slack {
		return json.Marshal(slackPayload(m))
	}
	b, err := json.Marshal(&m)
	if err != nil {
		return nil, fmt.Errorf("encode %s message: %w", m.Type, err)
	}
	return b, nil
}
