//go:build windows

package e2e

import "golang.org/x/sys/windows"

// processGone says whether pid has ended: it cannot be opened, or it has
// an exit code.
func processGone(pid int) bool {
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(pid))
	if err != nil {
		return true
	}
	defer windows.CloseHandle(h)
	var code uint32
	if err := windows.GetExitCodeProcess(h, &code); err != nil {
		return true
	}
	return code != 259 // STILL_ACTIVE
}
