package main

import "errors"

// exitError ends the command with a given exit code and message, for the
// commands whose code means something (validate, verify).
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }

func asExit(err error, target *exitError) bool { return errors.As(err, target) }
