package e2e

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"golang.org/x/sys/unix"

	"github.com/paddockhq/paddock/internal/sandbox"
)

// The hostile function (testdata/hostile) does, on request, what a
// function must not get away with; these tests check that it fails alone:
// its neighbours keep answering and Paddock keeps its state.

var (
	hostileOnce sync.Once
	hostileBin  []byte
	hostileErr  error
)

// hostileCode is testdata/hostile (built once) as the deployment zip of
// function name: the zip also holds a file named after it, so two
// functions have different code (the code cache shares identical zips).
func hostileCode(t *testing.T, name string) []byte {
	t.Helper()
	hostileOnce.Do(func() {
		dir, err := os.MkdirTemp("", "paddock-hostile-")
		if err != nil {
			hostileErr = err
			return
		}
		defer os.RemoveAll(dir)
		bin := filepath.Join(dir, "bootstrap")
		cmd := exec.Command("go", "build", "-buildvcs=false", "-o", bin, "./test/e2e/testdata/hostile")
		cmd.Dir = moduleRoot(t)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			hostileErr = fmt.Errorf("build hostile: %v\n%s", err, out)
			return
		}
		data, err := os.ReadFile(bin)
		if err != nil {
			hostileErr = err
			return
		}
		hostileBin = data
	})
	if hostileErr != nil {
		t.Fatal(hostileErr)
	}
	return zipOf(map[string][]byte{"bootstrap": hostileBin, "function.txt": []byte(name)})
}

// zipFunction creates a default-mode function from a zip.
func (e *env) zipFunction(name string, zip []byte, memory, timeout int32) {
	e.t.Helper()
	out, err := e.lambda.CreateFunction(ctx(e.t), &lambda.CreateFunctionInput{
		FunctionName: aws.String(name), Runtime: types.RuntimeProvidedal2023, Handler: aws.String("bootstrap"),
		Role: aws.String(roleARN), Code: &types.FunctionCode{ZipFile: zip},
		MemorySize: aws.Int32(memory), Timeout: aws.Int32(timeout),
	})
	if err != nil {
		e.t.Fatalf("CreateFunction %s: %v", name, err)
	}
	e.settled(name)
	if st := e.waitState(name, "$LATEST", func(types.State) bool { return true }); st != types.StateActive {
		e.t.Fatalf("function %s is %s (created %s), want Active", name, st, out.State)
	}
}

// hostileResult is testdata/hostile's answer.
type hostileResult struct {
	Error      string  `json:"error"`
	UID        int     `json:"uid"`
	GID        int     `json:"gid"`
	PID        int     `json:"pid"`
	HostPID    string  `json:"host_pid"`
	TmpDir     string  `json:"tmpdir"`
	Cwd        string  `json:"cwd"`
	TaskRoot   string  `json:"task_root"`
	NoNewPrivs string  `json:"no_new_privs"`
	Cgroup     string  `json:"cgroup"`
	Forked     int     `json:"forked"`
	Written    int64   `json:"written"`
	Data       string  `json:"data"`
	CPUSeconds float64 `json:"cpu_seconds"`
	WallMS     int64   `json:"wall_ms"`

	ErrorType string `json:"errorType"` // when the invoke failed
}

// ask invokes a hostile function and decodes its answer (or the error
// document of a failed invoke, with functionError set).
func (e *env) ask(name, payload string) (r hostileResult, functionError string) {
	e.t.Helper()
	out, err := e.invoke(name, "", payload)
	if err != nil {
		e.t.Fatalf("invoke %s %s: %v", name, payload, err)
	}
	if err := json.Unmarshal(out.Payload, &r); err != nil {
		e.t.Fatalf("invoke %s %s: answer %s: %v", name, payload, out.Payload, err)
	}
	return r, aws.ToString(out.FunctionError)
}

// neighbourAnswers checks that the echo function name still answers.
func (e *env) neighbourAnswers(name string) {
	e.t.Helper()
	out, err := e.invoke(name, "", `{"still":"here"}`)
	if err != nil || out.FunctionError != nil || string(out.Payload) != `{"still":"here"}` {
		e.t.Fatalf("the neighbour %s stopped answering: %v %s", name, err, out.Payload)
	}
}

// platformKeepsItsState checks that every function is still there and Active.
func (e *env) platformKeepsItsState(names ...string) {
	e.t.Helper()
	list, err := e.lambda.ListFunctions(ctx(e.t), &lambda.ListFunctionsInput{})
	if err != nil {
		e.t.Fatalf("ListFunctions: %v", err)
	}
	if len(list.Functions) != len(names) {
		e.t.Fatalf("ListFunctions has %d functions, want %d", len(list.Functions), len(names))
	}
	for _, n := range names {
		c, err := e.lambda.GetFunctionConfiguration(ctx(e.t), &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(n)})
		if err != nil || c.State != types.StateActive {
			e.t.Fatalf("function %s: %v state %v", n, err, c.State)
		}
	}
}

// needs skips the test, saying why, unless the host allows what it checks.
func needs(t *testing.T, what string, ok func(sandbox.Caps) bool) sandbox.Caps {
	t.Helper()
	c := sandbox.Probe()
	if !ok(c) {
		t.Skipf("this host does not allow %s (as root on Linux it does): %s", what, strings.Join(c.Missing, "; "))
	}
	return c
}

func TestSandboxSeparatesFunctions(t *testing.T) {
	c := needs(t, "a full sandbox", func(c sandbox.Caps) bool { return len(c.Missing) == 0 })
	e := start(t)
	e.zipFunction("alice", hostileCode(t, "alice"), 256, 10)
	e.zipFunction("bob", hostileCode(t, "bob"), 256, 10)
	a, _ := e.ask("alice", `{"whoami":true}`)
	b, _ := e.ask("bob", `{"whoami":true}`)
	t.Logf("alice: %+v", a)
	t.Logf("bob: %+v", b)
	for _, w := range []hostileResult{a, b} {
		if w.UID == 0 || w.GID == 0 || w.UID == os.Getuid() {
			t.Errorf("runs as %d:%d, the platform's user or root", w.UID, w.GID)
		}
		if w.PID != 1 {
			t.Errorf("pid %d: want 1, in a PID namespace of its own", w.PID)
		}
		if c.NoNewPrivs && w.NoNewPrivs != "1" {
			t.Errorf("no_new_privs is %q", w.NoNewPrivs)
		}
		if w.Cwd != w.TaskRoot || w.Cwd == "" {
			t.Errorf("cwd %q, LAMBDA_TASK_ROOT %q", w.Cwd, w.TaskRoot)
		}
		if !strings.Contains(w.Cgroup, "/paddock/") {
			t.Errorf("not in a cgroup of its own: %s", w.Cgroup)
		}
	}
	if a.UID == b.UID {
		t.Fatalf("both functions run as uid %d", a.UID)
	}

	// Bob cannot read Alice's code, nor the platform's data, nor Paddock's
	// environment (where its credentials would be).
	var engineFile string
	filepath.WalkDir(filepath.Join(e.dataDir, "engine"), func(p string, d fs.DirEntry, err error) error { //nolint:errcheck
		if err == nil && d.Type().IsRegular() && engineFile == "" {
			engineFile = p
		}
		return nil
	})
	if engineFile == "" {
		t.Fatal("no file in the engine's data dir to try")
	}
	// Each sees its own code at LAMBDA_TASK_ROOT (the same path for both in
	// a minimal root); Alice's code where it lives on the host is out of
	// Bob's reach.
	aliceCode := ""
	filepath.WalkDir(filepath.Join(e.dataDir, "code"), func(p string, d fs.DirEntry, err error) error { //nolint:errcheck
		if err == nil && d.Name() == "function.txt" {
			if b, _ := os.ReadFile(p); string(b) == "alice" {
				aliceCode = filepath.Dir(p)
			}
		}
		return nil
	})
	if aliceCode == "" {
		t.Fatal("alice's code is not in the code cache")
	}
	if r, _ := e.ask("alice", fmt.Sprintf(`{"read":%q}`, filepath.Join(a.Cwd, "function.txt"))); r.Data != "alice" {
		t.Fatalf("alice does not see her own code at %s: %+v", a.Cwd, r)
	}
	private := []string{
		filepath.Join(aliceCode, "function.txt"),
		filepath.Join(aliceCode, "bootstrap"),
		engineFile,
		fmt.Sprintf("/proc/%d/environ", os.Getpid()),
	}
	// Its command line (where paddock up --secret-access-key would be) is
	// hidden where the EE gets a /proc of its own (Linux 5.8, outside
	// containers that mask parts of /proc); there, not even init shows.
	if r, _ := e.ask("bob", `{"read":"/proc/1/cmdline"}`); r.Error != "" {
		private = append(private, fmt.Sprintf("/proc/%d/cmdline", os.Getpid()))
	} else {
		t.Logf("this host's /proc is not private to EEs: other processes' command lines are visible")
	}
	for _, p := range private {
		r, _ := e.ask("bob", fmt.Sprintf(`{"read":%q}`, p))
		if r.Error == "" {
			t.Errorf("bob read %s: %q", p, r.Data)
		} else {
			t.Logf("bob reading %s: %s", p, r.Error)
		}
	}
	// Bob reads its own code, so the refusals above are not a broken EE.
	if r, _ := e.ask("bob", fmt.Sprintf(`{"read":%q}`, filepath.Join(b.Cwd, "function.txt"))); r.Error != "" || r.Data != "bob" {
		t.Fatalf("bob cannot read its own code: %+v", r)
	}
	// Their /tmp is their own.
	if r, _ := e.ask("alice", `{"write":"/tmp/alice-secret","data":"s3cret"}`); r.Error != "" {
		t.Fatalf("alice cannot write her /tmp: %s", r.Error)
	}
	if r, _ := e.ask("alice", `{"read":"/tmp/alice-secret"}`); r.Data != "s3cret" {
		t.Fatalf("alice lost her /tmp file: %+v", r)
	}
	if r, _ := e.ask("bob", `{"read":"/tmp/alice-secret"}`); r.Error == "" {
		t.Errorf("bob read alice's /tmp: %q", r.Data)
	}
	if _, err := os.Stat("/tmp/alice-secret"); err == nil {
		t.Errorf("alice's /tmp file is in the host's /tmp")
	}
	// Nothing outside /tmp is writable, code included.
	for _, p := range []string{filepath.Join(b.Cwd, "planted"), "/etc/planted", filepath.Join(e.dataDir, "planted")} {
		if r, _ := e.ask("bob", fmt.Sprintf(`{"write":%q,"data":"x"}`, p)); r.Error == "" {
			t.Errorf("bob wrote %s", p)
		}
	}
	// Bob cannot signal Alice's runtime (by its pid on the host), nor Paddock.
	alicePID, err := strconv.Atoi(a.HostPID)
	if err != nil {
		t.Fatalf("alice's host pid %q: %v", a.HostPID, err)
	}
	for _, pid := range []int{alicePID, os.Getpid()} {
		r, _ := e.ask("bob", fmt.Sprintf(`{"signal_pid":%d}`, pid))
		if r.Error == "" {
			t.Errorf("bob could signal pid %d", pid)
		}
		t.Logf("bob signalling %d: %q", pid, r.Error)
	}
	e.platformKeepsItsState("alice", "bob")
}

func TestSandboxOutOfMemoryFailsAlone(t *testing.T) {
	e := start(t)
	e.zipFunction("greedy", hostileCode(t, "greedy"), 128, 10)
	e.defaultFunction("calm", "echo", 128, 10)
	e.neighbourAnswers("calm")
	r, fe := e.ask("greedy", `{"alloc_mb":400}`)
	if fe != "Unhandled" || r.ErrorType != "Runtime.OutOfMemory" {
		t.Fatalf("allocating 400 MB in 128 MB: %q %+v, want Unhandled Runtime.OutOfMemory", fe, r)
	}
	e.neighbourAnswers("calm")
	if r, fe := e.ask("greedy", `{"alloc_mb":10}`); fe != "" {
		t.Fatalf("the function after its out-of-memory: %q %+v", fe, r)
	}
	e.platformKeepsItsState("calm", "greedy")
}

func TestSandboxForkBombHitsThePidsLimit(t *testing.T) {
	needs(t, "a pids limit", func(c sandbox.Caps) bool { return c.Cgroups != "" && c.PIDNamespace })
	e := start(t)
	e.zipFunction("bomb", hostileCode(t, "bomb"), 2048, 60)
	e.defaultFunction("calm", "echo", 128, 10)
	e.neighbourAnswers("calm")

	// The neighbour is asked all along the bomb.
	stop := make(chan struct{})
	var answered, failed atomic.Int32
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			out, err := e.invoke("calm", "", `{"n":1}`)
			if err != nil || out.FunctionError != nil {
				failed.Add(1)
			} else {
				answered.Add(1)
			}
		}
	}()
	r, fe := e.ask("bomb", `{"fork_bomb":true}`)
	close(stop)
	wg.Wait()
	t.Logf("fork bomb: started %d processes, then %q; the neighbour answered %d invokes meanwhile, failed %d",
		r.Forked, r.Error, answered.Load(), failed.Load())
	if fe != "" || r.Forked >= 1024 || !strings.Contains(r.Error, "resource temporarily unavailable") {
		t.Fatalf("fork bomb: %q %+v, want refused before 1024 processes", fe, r)
	}
	if failed.Load() > 0 || answered.Load() == 0 {
		t.Fatalf("the neighbour failed %d invokes and answered %d during the bomb", failed.Load(), answered.Load())
	}
	if w, fe := e.ask("bomb", `{"whoami":true}`); fe != "" || w.UID == 0 {
		t.Fatalf("the function after its bomb: %q %+v", fe, w)
	}
	e.platformKeepsItsState("bomb", "calm")
}

func TestSandboxCPUHogGetsItsQuota(t *testing.T) {
	needs(t, "CPU quotas", func(c sandbox.Caps) bool { return c.Cgroups != "" && !slicesContainPrefix(c.Missing, "CPU") })
	e := start(t)
	// 1024 MB is 0.58 vCPU in Lambda's default mode.
	e.zipFunction("hog", hostileCode(t, "hog"), 1024, 30)
	e.defaultFunction("calm", "echo", 128, 10)
	e.neighbourAnswers("calm")
	// The neighbour's latency on this machine as it is now, without the
	// hog: the bound below is relative to it, so a slow or busy machine
	// does not fail the test.
	var base []time.Duration
	for i := 0; i < 20; i++ {
		t0 := time.Now()
		e.neighbourAnswers("calm")
		base = append(base, time.Since(t0))
	}
	sort.Slice(base, func(i, j int) bool { return base[i] < base[j] })
	const hogMS = 3000
	hogDone := make(chan hostileResult, 1)
	go func() {
		r, _ := e.ask("hog", fmt.Sprintf(`{"cpu_hog_ms":%d}`, hogMS))
		hogDone <- r
	}()
	time.Sleep(300 * time.Millisecond) // the hog is cold-started and spinning
	var lat []time.Duration
	for i := 0; i < 20; i++ {
		t0 := time.Now()
		e.neighbourAnswers("calm")
		lat = append(lat, time.Since(t0))
	}
	hog := <-hogDone
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	share := hog.CPUSeconds / (float64(hog.WallMS) / 1000)
	t.Logf("hog: %.2f CPU-seconds over %d ms (%.2f CPUs; quota 0.58 of %d); neighbour latency p50 %v, p90 %v, max %v",
		hog.CPUSeconds, hog.WallMS, share, runtime.NumCPU(), lat[len(lat)/2], lat[len(lat)*9/10], lat[len(lat)-1])
	if hog.WallMS < hogMS || share > 0.58*1.3 {
		t.Errorf("the hog used %.2f CPUs, past its 0.58 quota", share)
	}
	// With the hog held to its quota, the neighbour stays within a small
	// multiple of its own latency.
	if p50, limit := lat[len(lat)/2], 10*base[len(base)/2]+20*time.Millisecond; p50 > limit {
		t.Errorf("neighbour p50 latency %v while the hog runs, %v without it: want under %v", p50, base[len(base)/2], limit)
	}
	e.platformKeepsItsState("calm", "hog")
}

func TestSandboxFillingTmpFailsAlone(t *testing.T) {
	needs(t, "a private size-limited /tmp", func(c sandbox.Caps) bool { return c.MountNamespace })
	e := start(t)
	// /tmp is a 512 MiB tmpfs, which counts against the function's memory.
	e.zipFunction("filler", hostileCode(t, "filler"), 1024, 60)
	e.defaultFunction("calm", "echo", 128, 10)
	e.neighbourAnswers("calm")
	free := func() int64 {
		var st unix.Statfs_t
		if err := unix.Statfs(e.dataDir, &st); err != nil {
			t.Fatal(err)
		}
		return int64(st.Bavail) * st.Bsize
	}
	before := free()
	r, fe := e.ask("filler", `{"fill_tmp":true}`)
	after := free()
	t.Logf("fill_tmp: wrote %d MiB to %s, then %q; host free space %d -> %d MiB",
		r.Written>>20, "/tmp", r.Error, before>>20, after>>20)
	if fe != "" || !strings.Contains(r.Error, "no space left on device") {
		t.Fatalf("fill_tmp: %q %+v, want it to stop at no space left", fe, r)
	}
	if r.Written < 500<<20 || r.Written > 512<<20 {
		t.Errorf("wrote %d MiB, want about the 512 MiB of its /tmp", r.Written>>20)
	}
	if before-after > 256<<20 {
		t.Errorf("the host lost %d MiB of free space", (before-after)>>20)
	}
	e.neighbourAnswers("calm")
	if w, fe := e.ask("filler", `{"whoami":true}`); fe != "" || w.TmpDir != "/tmp" {
		t.Fatalf("the function after filling its /tmp: %q %+v", fe, w)
	}
	e.platformKeepsItsState("calm", "filler")
}

func slicesContainPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}
