// Command spawn runs a command and reports its wall time and peak resident
// set size, for the bench (see ../measure.go): spawn COMMAND [ARGS...].
//
// The bench cannot read a child's peak RSS from its own wait: Go starts
// children with vfork, so the child shares the bench's memory until it
// execs, and Linux counts the bench's high-water mark into the child's
// maxrss. spawn is a small process, so what it adds is a few MiB, which
// the bench measures (spawn true) and states.
//
// On fd 3 it writes "WALL_NS MAXRSS_KIB CPU_NS\n" (CPU: user and system
// time of the command and the children it waited for); it exits with the command's
// status (128+signal if a signal ended it), 127 if it could not start it.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: spawn COMMAND [ARGS...] (reports on fd 3)")
		os.Exit(2)
	}
	report := os.NewFile(3, "report")
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// The command ends with spawn, whom the bench kills on interrupt.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	err := cmd.Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "spawn: %v\n", err)
		os.Exit(127)
	}
	_ = cmd.Wait()
	wall := time.Since(start)
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss // KiB on Linux
	}
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	if _, err := fmt.Fprintf(report, "%d %d %d\n", wall.Nanoseconds(), rss, cpu.Nanoseconds()); err != nil {
		fmt.Fprintf(os.Stderr, "spawn: reporting: %v\n", err)
		os.Exit(125)
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		os.Exit(128 + int(ws.Signal()))
	}
	os.Exit(cmd.ProcessState.ExitCode())
}
