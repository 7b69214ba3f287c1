//go:build !unix

package throwaway

import "os/exec"

// ownGroup leaves cmd as it is where there are no process groups.
func ownGroup(cmd *exec.Cmd) *exec.Cmd { return cmd }
