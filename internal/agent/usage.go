package agent

import (
	"bytes"
	"os"
	"strconv"
	"time"
)

// Usage is what an EE's process has consumed.
type Usage struct {
	CPUSeconds float64 // user + system time of the runtime and its reaped children
	RSSBytes   int64   // resident memory of the runtime process
}

// clockTicks is USER_HZ, 100 on every Linux platform Go supports.
const clockTicks = 100

// Usage reads the EE's resource use from /proc. It returns zeros before
// the process starts or after it ends.
func (e *EE) Usage() Usage {
	if u, ok := e.sandboxUsage(); ok {
		return u // the cgroup's numbers count every process of the EE
	}
	if e.cmd == nil || e.cmd.Process == nil {
		return Usage{}
	}
	select {
	case <-e.exited:
		return Usage{}
	default:
	}
	return readUsage(e.cmd.Process.Pid)
}

func readUsage(pid int) Usage {
	dir := "/proc/" + strconv.Itoa(pid) + "/"
	var u Usage
	if stat, err := os.ReadFile(dir + "stat"); err == nil {
		// Fields after the ")" that ends the command name; utime is the
		// 14th field of the line, so the 12th after it.
		if i := bytes.LastIndexByte(stat, ')'); i >= 0 {
			f := bytes.Fields(stat[i+1:])
			if len(f) > 14 {
				var ticks int64
				for _, k := range []int{11, 12, 13, 14} { // utime stime cutime cstime
					n, _ := strconv.ParseInt(string(f[k]), 10, 64)
					ticks += n
				}
				u.CPUSeconds = float64(ticks) / clockTicks
			}
		}
	}
	u.RSSBytes = readRSS(pid)
	return u
}

// readRSS returns the resident memory of pid (0 if it is gone).
func readRSS(pid int) int64 {
	statm, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm")
	if err != nil {
		return 0
	}
	f := bytes.Fields(statm)
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(string(f[1]), 10, 64)
	return pages * int64(os.Getpagesize())
}

// memoryCacheFor is how long MemoryUsed may answer from its last reading.
const memoryCacheFor = 250 * time.Millisecond

// MemoryUsed is the EE's memory use, read at most every 250 ms: it feeds
// per-invoke REPORT lines, where reading the cgroup or /proc on every
// invoke would cost more than the invoke itself.
func (e *EE) MemoryUsed() int64 {
	now := time.Now().UnixNano()
	if now-e.memAt.Load() < int64(memoryCacheFor) {
		return e.memBytes.Load()
	}
	b := e.Usage().RSSBytes
	e.memBytes.Store(b)
	e.memAt.Store(now)
	return b
}
