package runtimes

import (
	"fmt"
	"strconv"
	"strings"
)

// Family is a language a managed runtime belongs to. Runtimes of one
// family share a runtime client directory.
type Family string

// The families Paddock runs.
const (
	NodeJS Family = "nodejs"
	Python Family = "python"
	Java   Family = "java"
)

// Model is how a runtime serves an EE's concurrent requests on LMI.
type Model string

// The concurrency models of Lambda Managed Instances' runtimes.
const (
	// WorkerThreads: one process, worker threads each running many async
	// handlers at once (Node.js).
	WorkerThreads Model = "worker threads, async handlers"
	// ForkedProcesses: one process per concurrent request, forked by the
	// runtime client itself from the one process the platform starts
	// (Python).
	ForkedProcesses Model = "one process per request"
	// Threads: one process, one OS thread per concurrent request (Java).
	Threads Model = "OS threads"
)

// Version is a language version, major.minor. Node.js and Java runtimes
// name a major version only (Minor 0).
type Version struct {
	Major, Minor int
}

func (v Version) String() string { return strconv.Itoa(v.Major) + "." + strconv.Itoa(v.Minor) }

// Less reports whether v is older than w.
func (v Version) Less(w Version) bool {
	if v.Major != w.Major {
		return v.Major < w.Major
	}
	return v.Minor < w.Minor
}

// Runtime is one managed runtime, as a function's Runtime names it.
type Runtime struct {
	Name    string // "nodejs22.x"
	Family  Family
	Version Version // the language version the runtime promises
	// PerVCPU is the default PerExecutionEnvironmentMaxConcurrency per vCPU
	// on LMI (Lambda's defaults: Node.js 64, Java 32, Python 16).
	PerVCPU int
	// Interpreter is the command the runtime runs on: node, python3, java.
	Interpreter string
	Model       Model
}

var registry = []Runtime{
	{Name: "nodejs22.x", Family: NodeJS, Version: Version{22, 0}, PerVCPU: 64, Interpreter: "node", Model: WorkerThreads},
	{Name: "nodejs24.x", Family: NodeJS, Version: Version{24, 0}, PerVCPU: 64, Interpreter: "node", Model: WorkerThreads},
	{Name: "python3.13", Family: Python, Version: Version{3, 13}, PerVCPU: 16, Interpreter: "python3", Model: ForkedProcesses},
	{Name: "python3.14", Family: Python, Version: Version{3, 14}, PerVCPU: 16, Interpreter: "python3", Model: ForkedProcesses},
	{Name: "java21", Family: Java, Version: Version{21, 0}, PerVCPU: 32, Interpreter: "java", Model: Threads},
	{Name: "java25", Family: Java, Version: Version{25, 0}, PerVCPU: 32, Interpreter: "java", Model: Threads},
}

// All is every managed runtime, in a stable order.
func All() []Runtime { return append([]Runtime(nil), registry...) }

// Lookup finds a managed runtime by its name; false for custom runtimes
// (provided.al2023, provided.al2) and for names Paddock does not run.
func Lookup(name string) (Runtime, bool) {
	for _, r := range registry {
		if r.Name == name {
			return r, true
		}
	}
	return Runtime{}, false
}

// DefaultConcurrency is the EE's PerExecutionEnvironmentMaxConcurrency
// when the function leaves it unset: the runtime's default per vCPU times
// the EE's vCPUs (at least one).
func (r Runtime) DefaultConcurrency(vcpus int) int { return r.PerVCPU * max(vcpus, 1) }

// Processes is how many runtime processes the platform starts for an EE of
// maxConcurrency: one, for every family. Python's one process per
// concurrent request is the runtime client's doing: awslambdaric (4.x)
// forks AWS_LAMBDA_MAX_CONCURRENCY workers from the process it runs in,
// so a platform that started that many processes would get the square.
func (r Runtime) Processes(maxConcurrency int) int { return 1 }

// Custom runtimes: a bootstrap in the code, no runtime client of Paddock's.
var custom = map[string]bool{"provided.al2023": true, "provided.al2": true}

// IsCustom reports whether name is an OS-only runtime (provided.*).
func IsCustom(name string) bool { return custom[name] }

// UnsupportedError refuses a runtime Paddock cannot run on this machine:
// an AWS runtime it has no runtime for, or a managed runtime whose
// interpreter is missing or too old. Its Error is the message for
// CreateFunction's InvalidParameterValueException.
type UnsupportedError struct {
	Runtime string
	Reason  string
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("The runtime parameter of %s is not supported by this Paddock installation: %s.", e.Runtime, e.Reason)
}

// Check refuses a runtime name Paddock cannot run at all, with its
// reason; nil for the managed and custom runtimes (whether a managed
// runtime's interpreter is there is Resolve's question). AWS has no error
// for a runtime that is valid but unavailable (its only wording is for
// deprecated ones, "The runtime parameter of X is no longer supported for
// creating or updating AWS Lambda functions..."), so the message follows
// that form and says why.
func Check(name string) error {
	if _, ok := Lookup(name); ok || IsCustom(name) {
		return nil
	}
	var reason string
	switch {
	case strings.HasPrefix(name, "dotnet"):
		reason = "it needs a .NET runtime, which this machine does not have"
	default:
		reason = "Paddock runs " + strings.Join(names(), ", ") + " and provided.al2023, provided.al2"
	}
	return &UnsupportedError{Runtime: name, Reason: reason}
}

func names() []string {
	out := make([]string, len(registry))
	for i, r := range registry {
		out[i] = r.Name
	}
	return out
}
