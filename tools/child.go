package tools

import "os/exec"

// child is the process of a stdio upstream. Each OS has its own way of
// making it die with warden (child_*.go): prepareChild sets it up before
// the start, started finishes the job once the process exists, and stop
// removes whatever the child left behind once the transport has closed.
type child struct {
	cmd *exec.Cmd
	os  childOS
}
