// Package testkit holds the helpers that tests of several warden packages
// share: a log sink safe for concurrent use, waiting on a condition or a
// channel with a clear failure, the admin API caller, the MCP client
// handshake, the one installer of the e2e npm peers, and a throwaway
// PostgreSQL cluster and HAProxy.
//
// It imports no warden package but internal/throwaway (the PostgreSQL
// cluster and HAProxy it wraps), which imports none, so that any
// package's tests can use it without an import cycle.
package testkit
