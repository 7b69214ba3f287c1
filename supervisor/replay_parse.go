package supervisor

import (
	"sync"

	"github.com/warden-dev/warden/eval"
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
	bytes int
}

func newParseShare() *parseShare {
	return &parseShare{byTxt: map[string]*eval.ParsedResult{}}
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
	if s.bytes+len(text) > maxParseShare {
		clear(s.byTxt)
		s.bytes = 0
	}
	r := eval.NewParsedResult(text, nil)
	s.byTxt[text] = r
	s.bytes += len(text)
	return r
}
