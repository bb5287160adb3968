package runtimes

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/paddockhq/paddock/internal/runtimeapi"
)

// The tests below start AWS's real runtime clients, as
// scripts/install-runtimes.sh installs them, on the host (no sandbox:
// host paths stand in for /var/runtime, /var/lang, /var/task and /opt)
// against Paddock's own Runtime API server, with the argv and environment
// of Runtime.Command, and check what a function sees and answers. Each
// skips when its runtime client or interpreter is not installed.

const testARN = "arn:aws:lambda:us-east-1:000000000000:function:fn:1"

// syncBuffer collects a process's output for the test's log.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// ee is a runtime client running against a Runtime API server.
type ee struct {
	srv *runtimeapi.Server
	out *syncBuffer
}

// startClient starts runtime name's client for handler in taskDir with
// maxConcurrency, and waits until it polls /next.
func startClient(t *testing.T, name, handler, taskDir string, maxConcurrency int, m Mapping) *ee {
	t.Helper()
	e, ie := launch(t, name, handler, taskDir, maxConcurrency, m)
	if ie != nil {
		t.Fatalf("%s: init error %s: %s\n%s", name, ie.Type, ie.Body, e.out)
	}
	return e
}

// launch starts runtime name's client and waits until it polls /next or
// reports an init error, which it returns.
func launch(t *testing.T, name, handler, taskDir string, maxConcurrency int, m Mapping) (*ee, *runtimeapi.InitError) {
	t.Helper()
	taskDir, err := filepath.Abs(taskDir)
	if err != nil {
		t.Fatal(err)
	}
	r, ok := Lookup(name)
	if !ok {
		t.Fatalf("no runtime %s", name)
	}
	root := DefaultDir()
	choice, err := Resolve(context.Background(), r, m, root)
	if err != nil {
		missing(t, "%s: %v", name, err)
	}
	if choice.Warning != "" {
		t.Logf("warning: %s", choice.Warning)
	}
	clientDir := ClientDir(root, r, choice.Version)
	version, err := CheckClientDir(clientDir)
	if err != nil {
		missing(t, "%s: %v", name, err)
	}
	t.Logf("%s: %s %s (%s), client %s", name, r.Interpreter, choice.Version, choice.Real, version)

	srv, err := runtimeapi.NewServer(maxConcurrency)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close(runtimeapi.ErrorTypeExit) })

	opt := t.TempDir()
	cmd, err := r.Command(Start{
		Handler:        handler,
		Interpreter:    choice.Real,
		RuntimeDir:     clientDir,
		TaskDir:        taskDir,
		OptDir:         opt,
		LangDir:        choice.Root,
		MemoryMB:       512,
		MaxConcurrency: maxConcurrency,
		VCPUs:          1,
	})
	if err != nil {
		t.Fatal(err)
	}
	// What the agent sets for every runtime (internal/agent's environ).
	env := map[string]string{
		"AWS_LAMBDA_RUNTIME_API":          srv.Addr(),
		"AWS_LAMBDA_FUNCTION_NAME":        "fn",
		"AWS_LAMBDA_FUNCTION_VERSION":     "1",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/fn",
		"AWS_LAMBDA_LOG_STREAM_NAME":      "2026/01/01/[1]test",
		"AWS_REGION":                      "us-east-1",
		"AWS_LAMBDA_LOG_FORMAT":           "JSON",
		// Lambda's ApplicationLogLevel defaults to INFO with the JSON
		// format; without it awslambdaric keeps Python's WARNING.
		"AWS_LAMBDA_LOG_LEVEL": "INFO",
		"LANG":                 "en_US.UTF-8",
		"TZ":                   ":UTC",
	}
	if maxConcurrency > 1 {
		env["AWS_LAMBDA_MAX_CONCURRENCY"] = strconv.Itoa(maxConcurrency)
	}
	for k, v := range cmd.Defaults {
		env[k] = v
	}
	for k, v := range cmd.Env {
		env[k] = v
	}
	p := exec.Command(cmd.Argv[0], cmd.Argv[1:]...)
	p.Dir = cmd.Dir
	for k, v := range env {
		p.Env = append(p.Env, k+"="+v)
	}
	out := &syncBuffer{}
	p.Stdout, p.Stderr = out, out
	p.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { p.Wait(); close(exited) }() //nolint:errcheck
	t.Cleanup(func() {
		syscall.Kill(-p.Process.Pid, syscall.SIGKILL) //nolint:errcheck
		<-exited
		if t.Failed() || testing.Verbose() {
			t.Logf("%s output:\n%s", name, out)
		}
	})
	e := &ee{srv: srv, out: out}
	select {
	case <-srv.Ready():
	case ie := <-srv.InitErrors():
		return e, &ie
	case <-exited:
		t.Fatalf("%s: exited before polling /next\n%s", name, out)
	case <-time.After(60 * time.Second):
		t.Fatalf("%s: no /next within 60s\n%s", name, out)
	}
	return e, nil
}

// checkInitError starts a client whose handler does not exist: it must
// report Runtime.ImportModuleError (Java: its class not found) on
// /runtime/init/error, as on Lambda.
func checkInitError(t *testing.T, name, handler, taskDir, wantType string, m Mapping) {
	t.Helper()
	_, ie := launch(t, name, handler, taskDir, 2, m)
	if ie == nil {
		t.Fatalf("%s with handler %s started without an init error", name, handler)
	}
	if ie.Type != wantType || !json.Valid(ie.Body) {
		t.Errorf("init error %s %s, want %s and a JSON document", ie.Type, ie.Body, wantType)
	}
}

// answer is what the test handlers return.
type answer struct {
	N         int    `json:"n"`
	Seen      int    `json:"seen"`
	RequestID string `json:"requestId"`
	ARN       string `json:"arn"`
	Remaining int64  `json:"remaining"`
	PID       int    `json:"pid"`
	Worker    string `json:"worker"`
}

const invokeTimeout = 30 * time.Second

func (e *ee) invoke(t *testing.T, id string, event map[string]any) *runtimeapi.Invocation {
	t.Helper()
	payload, _ := json.Marshal(event)
	inv := &runtimeapi.Invocation{ID: id, Payload: payload, Deadline: time.Now().Add(invokeTimeout), FunctionARN: testARN}
	if err := e.srv.Invoke(context.Background(), inv); err != nil {
		t.Errorf("invoke %s: %v", id, err)
	}
	return inv
}

// checkClient runs the invokes every client must pass: concurrent ones
// meeting at a barrier (so they ran at once), their context fields, a
// handler error of errorType with its stack under traceKey, and a JSON
// log line with the request id under idKey. It returns the concurrent
// answers.
func checkClient(t *testing.T, e *ee, concurrency int, errorType, traceKey, idKey string) []answer {
	t.Helper()
	dir := t.TempDir()
	answers := make([]answer, concurrency)
	var wg sync.WaitGroup
	for i := range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("req-%d", i)
			inv := e.invoke(t, id, map[string]any{"n": i, "dir": dir, "want": concurrency})
			if inv.FunctionError != "" {
				t.Errorf("%s: %s %s", id, inv.FunctionError, inv.Response)
				return
			}
			var a answer
			if err := json.Unmarshal(inv.Response, &a); err != nil {
				t.Errorf("%s: answer %s: %v", id, inv.Response, err)
				return
			}
			if a.N != i || a.RequestID != id || a.ARN != testARN {
				t.Errorf("%s: answer %+v: want n %d, its request id and ARN %s", id, a, i, testARN)
			}
			if a.Remaining <= 0 || a.Remaining > invokeTimeout.Milliseconds() {
				t.Errorf("%s: remaining time %d ms, want in (0, %d]", id, a.Remaining, invokeTimeout.Milliseconds())
			}
			if a.Seen != concurrency {
				t.Errorf("%s: saw %d of %d invokes at its barrier: they did not run at once", id, a.Seen, concurrency)
			}
			answers[i] = a
		}()
	}
	wg.Wait()

	inv := e.invoke(t, "req-fail", map[string]any{"n": 7, "fail": true})
	if inv.FunctionError != "Unhandled" {
		t.Errorf("failing invoke: function error %q, want Unhandled (%s)", inv.FunctionError, inv.Response)
	}
	// The error type the client names in its header (Java's is
	// Runtime.UserException; the others repeat the document's).
	t.Logf("failing invoke: error type %s", inv.ErrorType)
	var doc map[string]any
	if err := json.Unmarshal(inv.Response, &doc); err != nil {
		t.Errorf("error document %s: %v", inv.Response, err)
	}
	trace, _ := doc[traceKey].([]any)
	if doc["errorType"] != errorType || doc["errorMessage"] != "bad 7" || len(trace) == 0 {
		t.Errorf("error document %s: want errorType %s, errorMessage \"bad 7\", a %s", inv.Response, errorType, traceKey)
	}

	// AWS_LAMBDA_LOG_FORMAT=JSON: the handler's line carries its request id.
	want := regexp.MustCompile(`"` + idKey + `": ?"req-0"`)
	deadline := time.Now().Add(5 * time.Second)
	for !want.MatchString(e.out.String()) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if !want.MatchString(e.out.String()) {
		t.Errorf("no JSON log line with %s in the output", want)
	}
	return answers
}

func distinct(answers []answer, key func(answer) string) int {
	set := map[string]bool{}
	for _, a := range answers {
		set[key(a)] = true
	}
	return len(set)
}

func pid(a answer) string    { return strconv.Itoa(a.PID) }
func worker(a answer) string { return a.Worker }

func TestNodeJSClient(t *testing.T) {
	for _, name := range []string{"nodejs22.x", "nodejs24.x"} {
		t.Run(name, func(t *testing.T) {
			// 12 concurrent invokes in one process on 8 worker threads (8
			// per vCPU): some threads run several async handlers at once.
			e := startClient(t, name, "index.handler", "testdata/nodejs", 12, nil)
			// Lambda's Node.js runtimes name the stack "trace".
			answers := checkClient(t, e, 12, "TypeError", "trace", "requestId")
			if n := distinct(answers, pid); n != 1 {
				t.Errorf("%d processes served the invokes, want 1", n)
			}
			// Each worker polls /next again as soon as it has an invoke,
			// so one may hold them all.
			if n := distinct(answers, worker); n > 8 {
				t.Errorf("%d worker threads served 12 concurrent invokes, want at most 8", n)
			}
			checkInitError(t, name, "missing.handler", "testdata/nodejs", "Runtime.ImportModuleError", nil)
		})
	}
}

func TestPythonClient(t *testing.T) {
	// python3.13 runs on the host's python3 where the operator maps it,
	// whatever its version (3.11 here).
	py, err := exec.LookPath("python3")
	if err != nil {
		missing(t, "no python3")
	}
	m := Mapping{"python3.13": py, "python3.14": py}
	for _, name := range []string{"python3.13", "python3.14"} {
		t.Run(name, func(t *testing.T) {
			e := startClient(t, name, "handler.handler", "testdata/python", 4, m)
			answers := checkClient(t, e, 4, "ValueError", "stackTrace", "requestId")
			// One process started; awslambdaric forked one per concurrent request.
			if n := distinct(answers, pid); n != 4 {
				t.Errorf("%d processes served 4 concurrent invokes, want 4", n)
			}
			checkInitError(t, name, "missing.handler", "testdata/python", "Runtime.ImportModuleError", m)
		})
	}
}

func TestJavaClient(t *testing.T) {
	r, _ := Lookup("java21")
	choice, err := Resolve(context.Background(), r, nil, DefaultDir())
	if err != nil {
		missing(t, "java21: %v", err)
	}
	javac := filepath.Join(filepath.Dir(choice.Real), "javac")
	core, _ := filepath.Glob(filepath.Join(ClientDir(DefaultDir(), r, choice.Version), "lib", "aws-lambda-java-core-*.jar"))
	if len(core) == 0 {
		missing(t, "java: the runtime client is not installed (scripts/install-runtimes.sh installs it)")
	}
	if _, err := os.Stat(javac); err != nil {
		missing(t, "java: no javac beside %s", choice.Real)
	}
	task := t.TempDir()
	build := exec.Command(javac, "--release", "21", "-cp", core[0], "-d", task, "testdata/java/example/Handler.java")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("javac: %v\n%s", err, out)
	}
	for _, name := range []string{"java21", "java25"} {
		t.Run(name, func(t *testing.T) {
			e := startClient(t, name, "example.Handler::handleRequest", task, 4, nil)
			answers := checkClient(t, e, 4, "java.lang.IllegalArgumentException", "stackTrace", "AWSRequestId")
			if n := distinct(answers, pid); n != 1 {
				t.Errorf("%d processes served the invokes, want 1", n)
			}
			if n := distinct(answers, worker); n != 4 {
				t.Errorf("%d threads served 4 concurrent invokes, want 4", n)
			}
			// A missing class is no init error in Java's client: each
			// invoke fails with it (as on Lambda).
			e, ie := launch(t, name, "example.Missing::handleRequest", task, 2, nil)
			if ie != nil {
				t.Fatalf("missing class: init error %s %s", ie.Type, ie.Body)
			}
			inv := e.invoke(t, "req-missing", map[string]any{"n": 1})
			if inv.FunctionError != "Unhandled" || !strings.Contains(string(inv.Response), "ClassNotFoundException") {
				t.Errorf("missing class: %s %s %s, want an Unhandled ClassNotFoundException", inv.FunctionError, inv.ErrorType, inv.Response)
			}
			t.Logf("missing class: %s %s", inv.ErrorType, inv.Response)
		})
	}
}

// missing skips a test whose runtime or client is not installed, or fails
// it where CI installed them (PADDOCK_REQUIRE_RUNTIMES=1).
func missing(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("PADDOCK_REQUIRE_RUNTIMES") == "1" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}
