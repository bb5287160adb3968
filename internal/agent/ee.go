package agent

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/paddockhq/paddock/internal/runtimeapi"
	"github.com/paddockhq/paddock/internal/runtimes"
	"github.com/paddockhq/paddock/internal/sandbox"
)

// Spec is everything needed to start one execution environment.
type Spec struct {
	ID             string
	FunctionName   string
	Version        string
	Runtime        string
	Handler        string
	MemoryMB       int
	MaxConcurrency int // 1 for Lambda's default mode
	Timeout        time.Duration
	CodeSHA256Hex  string
	Env            map[string]string // the function's own variables
	Region         string
	LogFormat      string // "JSON" on Managed Instances
	AppLogLevel    string // LoggingConfig's ApplicationLogLevel (JSON format only)
	// Layers are the hex SHA-256 of the function's layers, in the order
	// they are extracted under /opt.
	Layers      []string
	InitTimeout time.Duration
	// MilliCPU is the EE's CPU in thousandths of a vCPU, its quota when
	// sandboxed; 0 derives it from MemoryMB as Lambda does (see milliCPU).
	MilliCPU int
}

// Sandbox defaults for every EE.
const (
	// DefaultPidsLimit bounds the processes and threads of one EE.
	DefaultPidsLimit = 1024
	// DefaultTmpBytes is the size of an EE's /tmp, Lambda's default
	// ephemeral storage. It is a tmpfs: what the function keeps there
	// counts against its memory, as on any Linux with /tmp in memory.
	DefaultTmpBytes = 512 << 20
)

// milliCPU is the CPU the EE gets: Spec.MilliCPU, or what Lambda gives its
// memory: on Managed Instances 1 vCPU per 2 GiB (the default ratio), in
// the default mode 1 vCPU per 1,769 MB, as the Lambda documentation states.
// (Spec has no mode field: more than one slot is how environ tells LMI.)
func (s Spec) milliCPU() int {
	switch {
	case s.MilliCPU > 0:
		return s.MilliCPU
	case s.MaxConcurrency > 1:
		return s.MemoryMB * 1000 / 2048
	default:
		return s.MemoryMB * 1000 / 1769
	}
}

// sandboxLimits are the limits of the EE's sandbox.
func (s Spec) sandboxLimits() sandbox.Limits {
	return sandbox.Limits{
		MemoryBytes: int64(s.MemoryMB) << 20,
		MilliCPU:    s.milliCPU(),
		Pids:        DefaultPidsLimit,
		TmpBytes:    DefaultTmpBytes,
	}
}

// State is where an EE is in its lifecycle.
type State int32

// EE lifecycle: Starting → Initializing → Ready → Draining → Stopped, or
// Failed from anywhere when its process exits or never initializes.
const (
	Starting State = iota
	Initializing
	Ready
	Draining
	Stopped
	Failed
)

func (s State) String() string {
	return [...]string{"Starting", "Initializing", "Ready", "Draining", "Stopped", "Failed"}[s]
}

// ParseState is the State named s (State.String's inverse).
func ParseState(s string) (State, bool) {
	for st := Starting; st <= Failed; st++ {
		if st.String() == s {
			return st, true
		}
	}
	return 0, false
}

// Failure says why an EE failed, with Lambda's StateReasonCode.
type Failure struct {
	Code    string // e.g. "FunctionError.RuntimeInitError"
	Message string
}

// Event reports an EE's state change to its owner.
type Event struct {
	EE      *EE
	State   State
	Failure *Failure // set when State is Failed
}

// EE is one running execution environment: a runtime process and the
// Runtime API that feeds it.
type EE struct {
	Spec     Spec
	Instance string
	srv      *runtimeapi.Server
	logs     *logRing
	state    atomic.Int32
	started  time.Time
	initDur  atomic.Int64 // ns from spawn to first /next
	memBytes atomic.Int64 // MemoryUsed's last reading
	memAt    atomic.Int64 // and when (unix ns)

	cmd      *exec.Cmd
	exited   chan struct{} // closed when the process has been reaped
	stopMu   sync.Mutex
	stopReq  chan struct{} // closed by Agent.Stop
	stopOnce sync.Once
	outputs  []io.Reader // the read ends of stdout and stderr
	output   OutputSink  // the agent's, if any

	sb atomic.Pointer[sandbox.Sandbox] // nil when the EE runs unconfined
}

// ID is the EE's id (Spec.ID).
func (e *EE) ID() string { return e.Spec.ID }

// State is the EE's current state.
func (e *EE) State() State { return State(e.state.Load()) }

// Invoke runs one invoke on this EE (see runtimeapi.Server.Invoke).
func (e *EE) Invoke(ctx context.Context, inv *runtimeapi.Invocation) error {
	return e.srv.Invoke(ctx, inv)
}

// InFlight is the number of invokes the EE holds.
func (e *EE) InFlight() int { return e.srv.Slots().InFlight() }

// MaxConcurrency is the EE's slot count.
func (e *EE) MaxConcurrency() int { return e.srv.Slots().Max() }

// Completed counts the invokes the EE has answered.
func (e *EE) Completed() uint64 {
	if e.srv == nil {
		return 0
	}
	return e.srv.Completed()
}

// InitDuration is how long the runtime took to first poll for work.
func (e *EE) InitDuration() time.Duration { return time.Duration(e.initDur.Load()) }

// LogsBetween returns the output lines the EE printed between from and to.
// It first waits (up to 20 ms) until what the runtime wrote before to has
// been read from its pipes, so a line printed just before the answer is
// not missed.
func (e *EE) LogsBetween(from, to time.Time) []string {
	deadline := time.Now().Add(20 * time.Millisecond)
	for time.Now().Before(deadline) && !e.outputDrained() {
		time.Sleep(200 * time.Microsecond)
	}
	return e.logs.between(from, to)
}

// outputDrained reports whether the EE's output pipes hold no unread bytes.
func (e *EE) outputDrained() bool {
	for _, r := range e.outputs {
		// SyscallConn, not Fd: Fd would switch the pipe to blocking mode.
		sc, ok := r.(interface {
			SyscallConn() (syscall.RawConn, error)
		})
		if !ok {
			continue
		}
		raw, err := sc.SyscallConn()
		if err != nil {
			continue
		}
		pending := 0
		raw.Control(func(fd uintptr) { //nolint:errcheck // a closed pipe has nothing pending
			pending, _ = unix.IoctlGetInt(int(fd), unix.TIOCINQ) // FIONREAD
		})
		if pending > 0 {
			return false
		}
	}
	return true
}

// ShutdownGrace is how long a runtime has between SIGTERM and SIGKILL, as on Lambda.
const ShutdownGrace = 2 * time.Second

// files is what an EE's runtime reads, on the host.
type files struct {
	code string // its code (LAMBDA_TASK_ROOT)
	opt  string // its layers merged, or ""
	// runtime is a managed runtime's interpreter and client; zero for a
	// custom runtime (a bootstrap in the code).
	runtime runtimes.Resolution
}

func (f files) managed() bool { return f.runtime.ClientDir != "" }

// The EE's read-only directories besides its code (sandbox.Mount).
func (f files) clientMount() sandbox.Mount {
	return sandbox.Mount{Host: f.runtime.ClientDir, At: runtimes.RuntimeDir}
}
func (f files) langMount() sandbox.Mount {
	return sandbox.Mount{Host: f.runtime.Choice.Root, At: runtimes.LangDir}
}
func (f files) optMount() sandbox.Mount { return sandbox.Mount{Host: f.opt, At: runtimes.OptDir} }

func (f files) mounts() []sandbox.Mount {
	var m []sandbox.Mount
	if f.managed() {
		m = append(m, f.clientMount(), f.langMount())
	}
	if f.opt != "" {
		m = append(m, f.optMount())
	}
	return m
}

// sandbox checks the EE's entry point (a custom runtime's bootstrap) and
// makes its sandbox, when caps is not nil and the host allows it; a nil
// Sandbox runs the EE unconfined (its methods work on nil).
func (e *EE) sandbox(ef files, caps *sandbox.Caps) (*sandbox.Sandbox, *Failure) {
	if !ef.managed() {
		bootstrap := filepath.Join(ef.code, "bootstrap")
		info, err := os.Stat(bootstrap)
		if err != nil {
			return nil, &Failure{"FunctionError.InvalidEntryPoint",
				"Couldn't find valid bootstrap(s): [" + bootstrap + "]"}
		}
		if info.Mode()&0o111 == 0 {
			return nil, &Failure{"FunctionError.PermissionDenied",
				"bootstrap is not executable: " + bootstrap}
		}
	}
	if caps == nil {
		return nil, nil
	}
	sb, err := e.prepareSandbox(caps, ef)
	if err != nil {
		if sandbox.Strict() {
			return nil, &Failure{"InternalError", "sandbox: " + err.Error()}
		}
		logger().Warn("sandbox: running an execution environment unconfined", "ee", e.Spec.ID, "err", err)
		return nil, nil
	}
	e.sb.Store(sb)
	return sb, nil
}

// command is the EE's runtime process: a custom runtime's bootstrap, or a
// managed runtime's client on its interpreter, with the variables that
// runtime sets (forced) and those it defaults.
func (e *EE) command(ef files, sb *sandbox.Sandbox, taskDir string) (cmd *exec.Cmd, forced, defaults map[string]string, err error) {
	if !ef.managed() {
		cmd = exec.Command(filepath.Join(taskDir, "bootstrap"))
		cmd.Dir = taskDir
		return cmd, nil, nil, nil
	}
	s := e.Spec
	opt := runtimes.OptDir
	if ef.opt != "" {
		opt = sb.Path(ef.optMount())
	}
	lang := sb.Path(ef.langMount())
	c, err := ef.runtime.Runtime.Command(runtimes.Start{
		Handler: s.Handler, Interpreter: ef.runtime.Choice.PathIn(lang),
		RuntimeDir: sb.Path(ef.clientMount()), TaskDir: taskDir, OptDir: opt, LangDir: lang,
		MemoryMB: s.MemoryMB, MaxConcurrency: s.MaxConcurrency, VCPUs: (s.milliCPU() + 999) / 1000, UserEnv: s.Env,
	})
	if err != nil {
		return nil, nil, nil, &Failure{"InvalidRuntime", err.Error()}
	}
	cmd = exec.Command(c.Argv[0], c.Argv[1:]...)
	cmd.Dir = c.Dir
	return cmd, c.Env, c.Defaults, nil
}

// spawn starts the runtime process of e, confined by sb when not nil.
func (e *EE) spawn(ef files, sb *sandbox.Sandbox) error {
	taskDir := ef.code
	if sb != nil {
		taskDir = sb.TaskDir()
	}
	cmd, forced, defaults, err := e.command(ef, sb, taskDir)
	if err != nil {
		return err
	}
	cmd.Env = e.environ(taskDir, forced, defaults)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Own process group: stopping the EE stops everything it forked.
		Setpgid: true,
		// If Paddock dies (even kill -9), the runtime dies with it.
		Pdeathsig: syscall.SIGKILL,
	}
	start := cmd.Start
	if sb != nil {
		// Last, so the sandbox's TMPDIR wins over a function's own (os/exec
		// keeps the last of duplicate variables).
		cmd.Env = append(cmd.Env, sb.Env()...)
		start = func() error { return sb.Start(cmd) }
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return errors.Join(err, closeSandbox(sb))
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return errors.Join(err, closeSandbox(sb))
	}
	e.outputs = []io.Reader{stdout, stderr}
	if err := start(); err != nil {
		closeSandbox(sb) //nolint:errcheck // the start failure is the news
		var setup *sandbox.SetupError
		if errors.As(err, &setup) {
			// The platform failed, not the function's entry point.
			return &Failure{"InternalError", err.Error()}
		}
		if errors.Is(err, fs.ErrPermission) {
			return &Failure{"FunctionError.PermissionDenied", err.Error()}
		}
		return &Failure{"FunctionError.InvalidEntryPoint", err.Error()}
	}
	e.cmd = cmd
	e.started = time.Now()
	var outputs sync.WaitGroup
	outputs.Add(2)
	go func() { defer outputs.Done(); e.logs.capture(stdout, logger(), "stdout", e, e.output) }()
	go func() { defer outputs.Done(); e.logs.capture(stderr, logger(), "stderr", e, e.output) }()
	go func() {
		outputs.Wait() // Wait closes the pipes: read them to the end first
		cmd.Wait()     //nolint:errcheck // the exit is reported through State
		close(e.exited)
	}()
	return nil
}

// prepareSandbox makes the EE's sandbox. The code cache holds every
// function's code: it is closed to other users, and the EE reaches its own
// code only through its sandbox (under its own path in its mount
// namespace, or a private copy without one). The code directory itself
// must be open to the EE's user, as Lambda's /var/task is (the cache
// extracts into a 0700 temporary directory).
func (e *EE) prepareSandbox(caps *sandbox.Caps, ef files) (*sandbox.Sandbox, error) {
	if err := os.Chmod(filepath.Dir(ef.code), 0o700); err != nil {
		return nil, err
	}
	for _, dir := range []string{ef.code, ef.opt} {
		if dir == "" {
			continue
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			return nil, err
		}
	}
	return caps.Prepare(e.Spec.ID, e.Spec.sandboxLimits(), ef.code, ef.mounts()...)
}

// closeSandbox closes sb, if any.
func closeSandbox(sb *sandbox.Sandbox) error {
	if sb == nil {
		return nil
	}
	return sb.Close()
}

// releaseSandbox kills whatever the EE left in its sandbox and removes the
// sandbox (cgroup, directories, uid), once its process has been reaped.
func (e *EE) releaseSandbox() {
	if err := closeSandbox(e.sb.Load()); err != nil {
		logger().Warn("sandbox: cleaning up after an execution environment", "ee", e.Spec.ID, "err", err)
	}
}

// oomKilled reports whether the kernel killed the EE for going past its
// memory (only known with a memory cgroup).
func (e *EE) oomKilled() bool {
	sb := e.sb.Load()
	return sb != nil && sb.OOMKilled()
}

// sandboxUsage is the EE's usage read from its cgroup, which counts every
// process the runtime started, not only the runtime itself; false without
// a cgroup. Usage should prefer it (usage.go is not changed yet).
func (e *EE) sandboxUsage() (Usage, bool) {
	sb := e.sb.Load()
	if sb == nil || !sb.HasCgroup() {
		return Usage{}, false
	}
	select {
	case <-e.exited:
		return Usage{}, true
	default:
	}
	cpu, mem := sb.Usage()
	return Usage{CPUSeconds: cpu, RSSBytes: mem}, true
}

func (f *Failure) Error() string { return f.Code + ": " + f.Message }

// environ is the runtime's environment as Lambda sets it (SPEC §5): its
// reserved variables, which forced (a managed runtime's) may replace and
// the function's own may not; then the function's; then the defaults
// (PATH, LANG, TZ, and a managed runtime's NODE_PATH, PYTHONPATH, ...),
// which the function's own replace, as on Lambda.
func (e *EE) environ(codeDir string, forced, defaults map[string]string) []string {
	s := e.Spec
	env := map[string]string{
		"LAMBDA_TASK_ROOT":                codeDir,
		"LAMBDA_RUNTIME_DIR":              codeDir,
		"AWS_LAMBDA_RUNTIME_API":          e.srv.Addr(),
		"AWS_LAMBDA_FUNCTION_NAME":        s.FunctionName,
		"AWS_LAMBDA_FUNCTION_VERSION":     s.Version,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(s.MemoryMB),
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/" + s.FunctionName,
		"AWS_LAMBDA_LOG_STREAM_NAME":      time.Now().UTC().Format("2006/01/02") + "/[" + s.Version + "]" + s.ID,
		"AWS_REGION":                      s.Region,
		"AWS_DEFAULT_REGION":              s.Region,
		"_HANDLER":                        s.Handler,
		"AWS_LAMBDA_INITIALIZATION_TYPE":  "lambda-managed-instances",
	}
	if s.LogFormat != "" {
		env["AWS_LAMBDA_LOG_FORMAT"] = s.LogFormat
	}
	if s.LogFormat == "JSON" {
		// The runtime clients filter their JSON logs by it; Lambda's
		// default ApplicationLogLevel is INFO.
		env["AWS_LAMBDA_LOG_LEVEL"] = cmp.Or(s.AppLogLevel, "INFO")
	}
	if s.MaxConcurrency > 1 {
		env["AWS_LAMBDA_MAX_CONCURRENCY"] = strconv.Itoa(s.MaxConcurrency)
	} else {
		env["AWS_LAMBDA_INITIALIZATION_TYPE"] = "on-demand"
	}
	maps.Copy(env, forced)
	soft := map[string]string{"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "en_US.UTF-8", "TZ": ":UTC"}
	maps.Copy(soft, defaults)
	for k, v := range s.Env {
		if _, reserved := env[k]; !reserved {
			soft[k] = v
		}
	}
	maps.Copy(env, soft)
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// signal sends sig to the EE's process group, if it runs.
func (e *EE) signal(sig syscall.Signal) {
	e.stopMu.Lock()
	defer e.stopMu.Unlock()
	if e.cmd != nil && e.cmd.Process != nil {
		syscall.Kill(-e.cmd.Process.Pid, sig) //nolint:errcheck // it may have exited
	}
}

// stop ends the process group: SIGTERM, then SIGKILL after the grace
// period; then it releases the EE's sandbox.
func (e *EE) stop() {
	e.stopMu.Lock()
	defer e.stopMu.Unlock()
	if e.cmd == nil || e.cmd.Process == nil {
		return
	}
	pgid := e.cmd.Process.Pid
	// Last: whatever the runtime left (in its cgroup, even outside its
	// process group) is killed, and its sandbox removed.
	defer e.releaseSandbox()
	select {
	case <-e.exited:
		syscall.Kill(-pgid, syscall.SIGKILL) //nolint:errcheck // stray children
		return
	default:
	}
	syscall.Kill(-pgid, syscall.SIGTERM) //nolint:errcheck
	select {
	case <-e.exited:
	case <-time.After(ShutdownGrace):
	}
	syscall.Kill(-pgid, syscall.SIGKILL) //nolint:errcheck // the group, even after the leader exited
	<-e.exited
}

// exitDescription describes how the process ended, for reasons and errors.
func (e *EE) exitDescription() string {
	if e.cmd == nil || e.cmd.ProcessState == nil {
		return "runtime exited"
	}
	st := e.cmd.ProcessState
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return "Runtime exited with signal: " + strings.ToLower(ws.Signal().String())
	}
	return fmt.Sprintf("Runtime exited with error: exit status %d", st.ExitCode())
}
