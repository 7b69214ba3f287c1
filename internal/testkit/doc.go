// Package testkit holds the helpers that tests of several warden packages
// share: a log sink safe for concurrent use, waiting on a condition or a
// channel with a clear failure, the admin API caller, the MCP client
// handshake and the one installer of the e2e npm peers.
//
// It imports no warden package, so that any package's tests can use it
// without an import cycle.
package testkit
