// Package warden holds the domain types that every part of warden shares:
// the verdict ladder and the shape of a tool call. The packages beside it
// (supervisor, workflows, eval, tools, store) depend on these and not on
// each other's internals.
package warden
