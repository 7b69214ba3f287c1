package store

import "errors"

// ErrAgentSuspended is wrapped by the error of an append that a store
// refused because the session's agent is suspended (store/postgres, where
// replicas learn of a suspension made on another only when it is
// notified: the store itself refuses, in the append's transaction, a call
// of a suspended agent going ahead).
var ErrAgentSuspended = errors.New("the agent is suspended")
