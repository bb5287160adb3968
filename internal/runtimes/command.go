package runtimes

import (
	"fmt"
	"strconv"
	"strings"
)

// Where an EE sees things, as on Lambda.
const (
	RuntimeDir = "/var/runtime" // the runtime client directory, read-only
	LangDir    = "/var/lang"    // the interpreter's install root, read-only
	TaskDir    = "/var/task"    // the function's code (LAMBDA_TASK_ROOT)
	OptDir     = "/opt"         // the function's layers, extracted in order
)

// Start describes one EE's runtime to start. Paths are as the EE sees
// them; empty ones take Lambda's (RuntimeDir, TaskDir, OptDir).
type Start struct {
	Handler string // the function's Handler (_HANDLER)
	// Interpreter is the interpreter's executable, such as
	// /var/lang/bin/node (Choice.PathIn(LangDir)).
	Interpreter string
	RuntimeDir  string
	TaskDir     string
	OptDir      string
	// LangDir is the interpreter's install root (LangDir when empty):
	// its bin and lib go on PATH and LD_LIBRARY_PATH.
	LangDir string
	// MemoryMB sizes Java's heap (0: the JVM's own default).
	MemoryMB int
	// MaxConcurrency is the EE's concurrency: above 1 the runtime runs in
	// LMI's multi-concurrent mode (the caller sets AWS_LAMBDA_MAX_CONCURRENCY,
	// as it does for every runtime).
	MaxConcurrency int
	// VCPUs is the EE's CPU allocation, for Node.js's worker count.
	VCPUs int
	// UserEnv is the function's own variables, read for the ones that
	// tune a runtime client (AWS_LAMBDA_NODEJS_WORKER_COUNT).
	UserEnv map[string]string
}

// Command is how to start a runtime: the process's argv, working
// directory and environment on top of the platform's usual variables.
type Command struct {
	Argv []string
	Dir  string // working directory: Java's client takes its task root from it
	// Env must be set as given: the function's variables do not override
	// it (AWS_EXECUTION_ENV, LAMBDA_RUNTIME_DIR, _HANDLER, ...).
	Env map[string]string
	// Defaults are set unless the function sets them itself (PATH,
	// LD_LIBRARY_PATH, NODE_PATH, PYTHONPATH, ...), as on Lambda.
	Defaults map[string]string
}

// Java's client, in the layout scripts/install-runtimes.sh makes.
const (
	javaMain     = "com.amazonaws.services.lambda.runtime.api.client.AWSLambda"
	javaJNIProp  = "com.amazonaws.services.lambda.runtime.api.client.runtimeapi.NativeClient.JNI"
	javaJNIName  = "libaws-lambda-jni.so"
	nodeClient   = "node_modules/aws-lambda-ric/index.mjs"
	pythonModule = "awslambdaric"
)

// nodeWorkersPerVCPU is the Node.js client's own default: 8 worker threads
// per CPU it finds in cgroup v2's cpu.max (one CPU when it finds none).
const nodeWorkersPerVCPU = 8

// Command describes how to start r for s.
func (r Runtime) Command(s Start) (Command, error) {
	if s.Handler == "" {
		return Command{}, fmt.Errorf("runtime %s: no handler", r.Name)
	}
	if s.Interpreter == "" {
		return Command{}, fmt.Errorf("runtime %s: no interpreter", r.Name)
	}
	rt := or(s.RuntimeDir, RuntimeDir)
	task := or(s.TaskDir, TaskDir)
	opt := or(s.OptDir, OptDir)
	lang := or(s.LangDir, LangDir)
	c := Command{
		Dir: task,
		Env: map[string]string{
			"AWS_EXECUTION_ENV":  "AWS_Lambda_" + r.Name,
			"LAMBDA_RUNTIME_DIR": rt,
			"LAMBDA_TASK_ROOT":   task,
			"_HANDLER":           s.Handler,
		},
		Defaults: map[string]string{
			// Lambda's PATH and LD_LIBRARY_PATH for its managed runtimes,
			// with the interpreter's root in place of /var/lang.
			"PATH":            join(lang+"/bin", "/usr/local/bin", "/usr/bin", "/bin", opt+"/bin"),
			"LD_LIBRARY_PATH": join(lang+"/lib", "/lib64", "/usr/lib64", rt, rt+"/lib", task, task+"/lib", opt+"/lib"),
		},
	}
	switch r.Family {
	case NodeJS:
		// The client reads its handler from _HANDLER and LAMBDA_TASK_ROOT;
		// with AWS_LAMBDA_MAX_CONCURRENCY set it starts worker threads
		// that each poll /next and run handlers concurrently.
		c.Argv = []string{s.Interpreter, rt + "/" + nodeClient}
		c.Defaults["NODE_PATH"] = join(
			fmt.Sprintf("%s/nodejs/node%d/node_modules", opt, r.Version.Major),
			opt+"/nodejs/node_modules", rt+"/node_modules", rt, task)
		if s.MaxConcurrency > 1 {
			workers := nodeWorkers(s)
			if _, set := s.UserEnv["AWS_LAMBDA_NODEJS_WORKER_COUNT"]; !set {
				c.Env["AWS_LAMBDA_NODEJS_WORKER_COUNT"] = strconv.Itoa(workers)
			}
			// Every worker's /next is a blocking call of the native
			// client on libuv's thread pool (4 threads by default,
			// shared by the process): with every pool thread parked on
			// /next, the handlers' file and DNS calls would wait for the
			// next invoke to arrive.
			c.Defaults["UV_THREADPOOL_SIZE"] = strconv.Itoa(min(workers+4, 1024))
		}
	case Python:
		// awslambdaric takes the handler as its argument; with
		// AWS_LAMBDA_MAX_CONCURRENCY set it forks that many workers.
		c.Argv = []string{s.Interpreter, "-m", pythonModule, s.Handler}
		c.Defaults["PYTHONPATH"] = join(task,
			fmt.Sprintf("%s/python/lib/python%d.%d/site-packages", opt, r.Version.Major, r.Version.Minor),
			opt+"/python", rt)
	case Java:
		// The client loads the function's classes itself from its working
		// directory (the task root), its lib/*.jar and /opt/java/lib/*.jar,
		// in a class loader of their own: the JVM's classpath holds only
		// the client, as in Lambda's bootstrap.
		argv := []string{s.Interpreter}
		if s.MemoryMB > 0 {
			// Lambda gives the heap about 85% of the function's memory.
			argv = append(argv, "-XX:MaxHeapSize="+strconv.Itoa(s.MemoryMB*85/100)+"m")
		}
		if s.MaxConcurrency <= 1 {
			// One request at a time: start fast, as Lambda's bootstrap
			// does (C1 only, serial GC).
			argv = append(argv, "-XX:+TieredCompilation", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")
		}
		// The client loads its JNI library with System.load, which JDK
		// 24+ warns about on stderr unless native access is enabled.
		argv = append(argv, "-Xshare:auto", "-Djava.net.preferIPv4Stack=true", "--enable-native-access=ALL-UNNAMED",
			"-D"+javaJNIProp+"="+rt+"/"+javaJNIName,
			"-classpath", rt+"/lib/*", javaMain, s.Handler)
		c.Argv = argv
	default:
		return Command{}, fmt.Errorf("runtime %s: unknown family %q", r.Name, r.Family)
	}
	return c, nil
}

// nodeWorkers is the Node.js client's worker thread count: its own rule (8
// per vCPU), which it cannot apply on cgroup v1 or without a CPU quota,
// and never more than the EE's concurrency (a worker takes at least one
// request; each more is another copy of the function's init).
func nodeWorkers(s Start) int {
	if v, ok := s.UserEnv["AWS_LAMBDA_NODEJS_WORKER_COUNT"]; ok {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			return n
		}
	}
	return max(1, min(nodeWorkersPerVCPU*max(s.VCPUs, 1), s.MaxConcurrency))
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func join(parts ...string) string { return strings.Join(parts, ":") }
