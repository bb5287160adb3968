package bench

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
	"time"
)

// userHZ is the unit of /proc/stat's counters; it is 100 on every Linux
// architecture Go supports.
const userHZ = 100

// machineBusy is the CPU time every core of the machine has spent doing
// anything but idling or waiting for I/O since boot, from the first line of
// /proc/stat; 0 where that file cannot be read.
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	fields := bytes.Fields(line)
	if len(fields) < 5 || string(fields[0]) != "cpu" {
		return 0
	}
	var busy int64
	for i, f := range fields[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		n, err := strconv.ParseInt(string(f), 10, 64)
		if err != nil {
			return 0
		}
		busy += n
	}
	return time.Duration(busy) * time.Second / userHZ
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// passiveOpens is the number of TCP connections this machine has accepted
// since boot (Tcp: PassiveOpens in /proc/net/snmp); 0 where unreadable.
func passiveOpens() int64 {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return 0
	}
	var names []byte
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		if !bytes.HasPrefix(line, []byte("Tcp: ")) {
			continue
		}
		if names == nil {
			names = line
			continue
		}
		for i, name := range bytes.Fields(names) {
			if string(name) == "PassiveOpens" {
				values := bytes.Fields(line)
				if i < len(values) {
					n, _ := strconv.ParseInt(string(values[i]), 10, 64)
					return n
				}
			}
		}
		return 0
	}
	return 0
}
