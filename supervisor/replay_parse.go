package supervisor

import (
	"sync"

	"github.com/warden-dev/warden/eval"
	"github.com/warden-dev/warden/workflows"
)

// maxParseShare bounds the text of the results a replay shares parses
// of; past it the shared set starts again empty, so that a long history
// holds at most this (and its trees) beside the session being replayed.
const maxParseShare = 16 << 20

// parseShare hands out one eval.ParsedResult per distinct result text
// across a replay's sessions: a history reads the same inbox, file list
// or balance over and over (the 339 results of the AgentDojo benign
// corpus hold 149 distinct texts), and parsing a result's YAML is most of
// the cost of replaying it. Parsed trees are never changed, so sessions
// may share them; it is safe for concurrent use by replay's workers.
type parseShare struct {
	mu    sync.Mutex
	byTxt map[string]*eval.ParsedResult
	byRaw map[string]rawShared // by the text's JSON string, as in the trace
	bytes int
}

// rawShared is a result text unquoted from its JSON string, and its parse.
type rawShared struct {
	text  string
	parse *eval.ParsedResult
}

func newParseShare() *parseShare {
	return &parseShare{byTxt: map[string]*eval.ParsedResult{}, byRaw: map[string]rawShared{}}
}

// of is the result of a call of a trace, with its shared parse.
func (s *parseShare) of(tc TraceCall) workflows.Result {
	if tc.rawOutput != nil && tc.Structured == nil {
		text, parse := s.raw(tc.rawOutput)
		return workflows.Result{Text: text, Parse: parse}
	}
	text := ""
	switch {
	case tc.Output != nil:
		text = *tc.Output
	case tc.rawOutput != nil:
		text = unquoteRaw(tc.rawOutput)
	}
	return workflows.Result{Text: text, Structured: tc.Structured, Parse: s.result(text, tc.Structured)}
}

// raw is the text of a JSON string and its shared parse: a history's
// repeated texts are unquoted once, not at every call.
func (s *parseShare) raw(quoted []byte) (string, *eval.ParsedResult) {
	if s == nil || len(quoted) > maxParseShare/16 {
		text := unquoteRaw(quoted)
		return text, s.result(text, nil)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.byRaw[string(quoted)]; ok {
		return r.text, r.parse
	}
	s.fit(2 * len(quoted))
	text := unquoteRaw(quoted)
	r := rawShared{text: text, parse: eval.NewParsedResult(text, nil)}
	s.byRaw[string(quoted)] = r
	s.bytes += len(quoted) + len(text)
	return r.text, r.parse
}

// checked says whether quoted, a result's JSON string, is one the share
// holds: every one it holds was checked by the decoder that handed it
// out, so a trace's decoder need not check it again. Nil for a nil share.
func (s *parseShare) checked(quoted []byte) bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.byRaw[string(quoted)]
	return ok
}

// fit empties the share if n more bytes would take it past its bound.
func (s *parseShare) fit(n int) {
	if s.bytes+n > maxParseShare {
		clear(s.byTxt)
		clear(s.byRaw)
		s.bytes = 0
	}
}

// result is the shared parse of a result with this text and no
// structuredContent; a result with structuredContent, or a nil share, gets
// its own.
func (s *parseShare) result(text string, structured any) *eval.ParsedResult {
	if s == nil || structured != nil || len(text) > maxParseShare/16 {
		return eval.NewParsedResult(text, structured)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.byTxt[text]; ok {
		return r
	}
	s.fit(len(text))
	r := eval.NewParsedResult(text, nil)
	s.byTxt[text] = r
	s.bytes += len(text)
	return r
}
