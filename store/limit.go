package store

import "errors"

// ErrOverLimit is wrapped by the error of a write that a limit refused
// (store/postgres's CreateApprovalWithin: an agent's pending approvals).
var ErrOverLimit = errors.New("over its limit")
