package tools

import (
	"errors"
	"fmt"
	"os/exec"
	"syscall"
	"unsafe"

	"github.com/charmbracelet/log"
	"golang.org/x/sys/windows"
)

// childOS holds the job object the child runs in.
type childOS struct{ job windows.Handle }

// prepareChild starts the child suspended, so that it cannot start a
// process of its own before started has put it in its job object.
func prepareChild(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: windows.CREATE_SUSPENDED}
}

// started puts the child in a job object that kills every process in it
// when its last handle closes: at stop, or when warden exits in any way,
// since only warden holds that handle. Then it lets the child run. A child
// that cannot be put in a job still runs, with a warning; one that cannot
// be resumed is killed.
func (c *child) started(logger *log.Logger) error {
	if c == nil || c.cmd == nil || c.cmd.Process == nil {
		return nil
	}
	pid := uint32(c.cmd.Process.Pid)
	job, err := killOnCloseJob(pid)
	if err != nil {
		logger.Warn("the stdio child will not die with warden", "err", err)
	}
	c.os.job = job
	if err := resume(pid); err != nil {
		_ = c.cmd.Process.Kill()
		return fmt.Errorf("resume the stdio child: %w", err)
	}
	return nil
}

// terminate does nothing: Windows has no signal to ask a process tree to
// end, and mcp-go kills the child at once there; stop ends the tree.
func (c *child) terminate() {}

// stop closes the job's handle, which kills what is left of the child's
// process tree.
func (c *child) stop() {
	if c != nil && c.os.job != 0 {
		_ = windows.CloseHandle(c.os.job)
		c.os.job = 0
	}
}

// killOnCloseJob creates a job object with JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
// and puts process pid in it; its children join it as they start.
func killOnCloseJob(pid uint32) (windows.Handle, error) {
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return 0, fmt.Errorf("create job object: %w", err)
	}
	info := windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION{}
	info.BasicLimitInformation.LimitFlags = windows.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
	if _, err := windows.SetInformationJobObject(job, windows.JobObjectExtendedLimitInformation,
		uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info))); err != nil {
		_ = windows.CloseHandle(job)
		return 0, fmt.Errorf("set kill-on-close on the job object: %w", err)
	}
	proc, err := windows.OpenProcess(windows.PROCESS_SET_QUOTA|windows.PROCESS_TERMINATE, false, pid)
	if err != nil {
		_ = windows.CloseHandle(job)
		return 0, fmt.Errorf("open process %d: %w", pid, err)
	}
	defer windows.CloseHandle(proc)
	if err := windows.AssignProcessToJobObject(job, proc); err != nil {
		_ = windows.CloseHandle(job)
		return 0, fmt.Errorf("assign process %d to the job object: %w", pid, err)
	}
	return job, nil
}

// resume resumes the threads of process pid (a process started suspended
// has one).
func resume(pid uint32) error {
	snap, err := windows.CreateToolhelp32Snapshot(windows.TH32CS_SNAPTHREAD, 0)
	if err != nil {
		return fmt.Errorf("snapshot threads: %w", err)
	}
	defer windows.CloseHandle(snap)
	te := windows.ThreadEntry32{Size: uint32(unsafe.Sizeof(windows.ThreadEntry32{}))}
	resumed := 0
	for err = windows.Thread32First(snap, &te); err == nil; err = windows.Thread32Next(snap, &te) {
		if te.OwnerProcessID != pid {
			continue
		}
		th, err := windows.OpenThread(windows.THREAD_SUSPEND_RESUME, false, te.ThreadID)
		if err != nil {
			return fmt.Errorf("open thread %d: %w", te.ThreadID, err)
		}
		_, err = windows.ResumeThread(th)
		_ = windows.CloseHandle(th)
		if err != nil {
			return fmt.Errorf("resume thread %d: %w", te.ThreadID, err)
		}
		resumed++
	}
	if !errors.Is(err, windows.ERROR_NO_MORE_FILES) {
		return fmt.Errorf("list threads: %w", err)
	}
	if resumed == 0 {
		return fmt.Errorf("process %d has no thread to resume", pid)
	}
	return nil
}
