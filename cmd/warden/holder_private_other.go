//go:build !unix

package main

// private checks that only this user can write path; outside Unix the
// data directory's access control list is left to the operator.
func private(string, bool) error { return nil }
