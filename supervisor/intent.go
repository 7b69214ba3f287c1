package supervisor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"unicode/utf8"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/workflows"
)

// The declared intent: the task that the agent framework (not the model)
// says the session is for. See docs/workflows.md, "Declared intent".
const (
	// intentMetaKey is where the intent travels in a request's _meta.
	intentMetaKey = "dev.warden/intent"
	// intentHeader carries it, percent-encoded, on the initialize POST.
	intentHeader = "Warden-Intent"

	maxIntentBytes = 4 << 10
	maxIntentItems = 64
)

// errIntent is wrapped by every error for an intent that cannot be read.
var errIntent = errors.New("invalid declared intent")

// decodeIntent reads an intent: a string (the user's request) or an
// object with request, actions, recipients and amounts, and nothing else.
func decodeIntent(raw []byte) (*workflows.Intent, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 4*maxIntentBytes {
		return nil, fmt.Errorf("%w: over %d bytes", errIntent, 4*maxIntentBytes)
	}
	var in workflows.Intent
	if len(raw) > 0 && raw[0] == '"' {
		if err := json.Unmarshal(raw, &in.Request); err != nil {
			return nil, fmt.Errorf("%w: %v", errIntent, err)
		}
	} else {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			return nil, fmt.Errorf("%w: want a string or an object with request, actions, recipients and amounts: %v", errIntent, err)
		}
		if dec.More() {
			return nil, fmt.Errorf("%w: trailing data", errIntent)
		}
	}
	switch {
	case len(in.Request) > maxIntentBytes:
		return nil, fmt.Errorf("%w: the request is over %d bytes", errIntent, maxIntentBytes)
	case !utf8.ValidString(in.Request):
		return nil, fmt.Errorf("%w: the request is not UTF-8", errIntent)
	case len(in.Actions) > maxIntentItems || len(in.Recipients) > maxIntentItems || len(in.Amounts) > maxIntentItems:
		return nil, fmt.Errorf("%w: more than %d items in a list", errIntent, maxIntentItems)
	case in.Request == "" && len(in.Actions) == 0 && len(in.Recipients) == 0 && len(in.Amounts) == 0:
		return nil, fmt.Errorf("%w: it is empty", errIntent)
	}
	return &in, nil
}

// metaIntent is the intent in a request's _meta, nil when there is none.
func metaIntent(meta *mcp.Meta) (*workflows.Intent, error) {
	if meta == nil {
		return nil, nil
	}
	v, ok := meta.AdditionalFields[intentMetaKey]
	if !ok {
		return nil, nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errIntent, err)
	}
	return decodeIntent(raw)
}

// initializeIntent is the intent an initialize declares, in its _meta (which
// mcp-go does not decode, so it is read here from the body) or else in the
// header; nil when it declares none. body is a JSON-RPC request; anything
// but an initialize declares nothing.
func initializeIntent(body []byte, header string) (*workflows.Intent, error) {
	if !mayBeMethod(body, string(mcp.MethodInitialize)) {
		return nil, nil
	}
	var req struct {
		Method string `json:"method"`
		Params struct {
			Meta map[string]json.RawMessage `json:"_meta"`
		} `json:"params"`
	}
	if json.Unmarshal(body, &req) != nil || req.Method != string(mcp.MethodInitialize) {
		return nil, nil
	}
	if raw, ok := req.Params.Meta[intentMetaKey]; ok {
		return decodeIntent(raw)
	}
	if header == "" {
		return nil, nil
	}
	text, err := url.PathUnescape(header)
	if err != nil {
		return nil, fmt.Errorf("%w: the %s header is not percent-encoded UTF-8: %v", errIntent, intentHeader, err)
	}
	raw, _ := json.Marshal(text)
	return decodeIntent(raw)
}

// declareIntent makes in the session's intent from its next call on, and
// records it. Called with the session's decideMu held.
func (s *Supervisor) declareIntent(ctx context.Context, sess *session, in *workflows.Intent) error {
	data, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("record intent: %w", err)
	}
	if _, err := s.store.Append(ctx, sess.id, store.Event{Kind: store.KindIntent, Data: data,
		Reasons: []string{"the agent framework declared the session's intent"}}); err != nil {
		return fmt.Errorf("record intent: %w", err)
	}
	sess.mu.Lock()
	sess.state.Session.Intent = in
	sess.mu.Unlock()
	sess.prov.setIntent(in)
	return nil
}

// intentText is the session's declared request, for approvers.
func (sess *session) intentText() string {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if in := sess.state.Session.Intent; in != nil {
		return in.Request
	}
	return ""
}
