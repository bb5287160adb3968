package bench

import (
	"bytes"
	"os"
	"strconv"
	"strings"
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

// functionCPU is the CPU time used so far by every function process: those
// named bootstrap (the relay's and Paddock's custom-runtime EEs), and the
// managed runtimes' node, python3.X and java (TestRuntimesBenchmark), from
// /proc/<pid>/stat; processes that exited are not counted, so it is only
// meaningful across a run in which the function processes live on.
func functionCPU() time.Duration {
	return commCPU(func(pid, comm string) bool {
		if comm == "java" {
			// A Java function, not a Java server the benchmark runs
			// beside Paddock (ElasticMQ in bench/sqs.sh).
			cmdline, _ := os.ReadFile("/proc/" + pid + "/cmdline")
			return !bytes.Contains(cmdline, []byte("org.elasticmq"))
		}
		return comm == "bootstrap" || comm == "node" || strings.HasPrefix(comm, "python3")
	})
}

// agentPIDs are the `paddock agent` processes of the cluster benchmark,
// set by startCluster before any load runs; agentCPU counts them only, not
// whatever else on the machine is named paddock.
var agentPIDs []int

// agentCPU is the CPU time used so far by the processes of agentPIDs; 0
// where there are none.
func agentCPU() time.Duration {
	var total time.Duration
	for _, pid := range agentPIDs {
		total += pidCPU(pid)
	}
	return total
}

// pidCPU is the CPU time used so far by process pid; 0 once it is gone.
func pidCPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	_, t := statCPU(b)
	return time.Duration(t) * time.Second / userHZ
}

// commCPU is the CPU time used so far by every live process whose command
// name match takes, from /proc/<pid>/stat.
func commCPU(match func(pid, comm string) bool) time.Duration {
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	var ticks int64
	for _, d := range dirs {
		if d.Name()[0] < '0' || d.Name()[0] > '9' {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		if c, t := statCPU(b); match(d.Name(), c) {
			ticks += t
		}
	}
	return time.Duration(ticks) * time.Second / userHZ
}

// statCPU parses a /proc/<pid>/stat line: the command name and the user
// plus system CPU time in ticks.
func statCPU(b []byte) (comm string, ticks int64) {
	// pid (comm) state ppid ... utime stime: fields 14 and 15, counted
	// after the closing parenthesis since comm may hold spaces.
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return "", 0
	}
	f := bytes.Fields(b[end+1:])
	if len(f) < 13 {
		return string(b[open+1 : end]), 0
	}
	u, _ := strconv.ParseInt(string(f[11]), 10, 64)
	s, _ := strconv.ParseInt(string(f[12]), 10, 64)
	return string(b[open+1 : end]), u + s
}
