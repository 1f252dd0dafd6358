package vaultdev

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"
)

// Freeze stops the server with SIGSTOP, as a hung Vault, and returns once
// the kernel reports the process stopped, so no request slips through.
func (s *Server) Freeze() error {
	if err := s.signal(syscall.SIGSTOP); err != nil {
		return err
	}
	return s.waitState(true)
}

// Thaw resumes a frozen server with SIGCONT.
func (s *Server) Thaw() error {
	if err := s.signal(syscall.SIGCONT); err != nil {
		return err
	}
	return s.waitState(false)
}

func (s *Server) signal(sig syscall.Signal) error {
	select {
	case <-s.exited:
		return errors.New("vaultdev: server has exited")
	default:
	}
	return s.cmd.Process.Signal(sig)
}

// waitState polls /proc until the process is (or is no longer) stopped.
func (s *Server) waitState(stopped bool) error {
	path := fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid)
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("vaultdev: %w", err)
		}
		// The state follows the parenthesised command name: "pid (comm) S ...".
		fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(fields) > 0 && (fields[0] == "T") == stopped {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("vaultdev: process did not become stopped=%v", stopped)
}
