//go:build linux

package main

import (
	"fmt"
	"syscall"
	"time"
)

// syslogConn sends messages to the local syslog daemon over /dev/log the
// way glibc's syslog(3) does after openlog(tag, LOG_CONS, LOG_DAEMON):
// "<PRI>Mmm dd hh:mm:ss tag: message". It uses a plain socket rather than
// log/syslog, whose dependency on package net would cost every gokmod run
// a dynamically linked start-up.
type syslogConn struct {
	fd  int
	tag string
}

const logDaemon = 3 << 3

// dialSyslog connects to /dev/log; it returns nil when no daemon listens,
// and the messages are then dropped.
func dialSyslog(tag string) *syslogConn {
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	if err := syscall.Connect(fd, &syscall.SockaddrUnix{Name: "/dev/log"}); err != nil {
		syscall.Close(fd)
		return nil
	}
	return &syslogConn{fd: fd, tag: tag}
}

func (c *syslogConn) log(prio int, msg string) {
	line := fmt.Sprintf("<%d>%s %s: %s", logDaemon|prio, time.Now().Format(time.Stamp), c.tag, msg)
	_, _ = syscall.Write(c.fd, []byte(line))
}

func (c *syslogConn) close() { syscall.Close(c.fd) }
