package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
)

// loader is the load generator process (bench/loadgen) of one benchmark:
// every measured request comes from it, never from the benchmark's own
// process, which runs the servers under test.
type loader struct {
	t     *testing.T
	cmd   *exec.Cmd
	stdin io.WriteCloser
	enc   *json.Encoder
	dec   *json.Decoder

	mu     sync.Mutex      // one load at a time
	warned map[string]bool // targets whose first error was reported
}

// startLoader builds and starts bench/loadgen; it exits when the test ends.
func startLoader(t *testing.T) *loader {
	t.Helper()
	bin := goBuild(t, "./bench/loadgen", "loadgen")
	cmd := exec.Command(bin)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start loadgen: %v", err)
	}
	t.Cleanup(func() {
		stdin.Close() // EOF: loadgen exits
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	return &loader{t: t, cmd: cmd, stdin: stdin, enc: json.NewEncoder(stdin), dec: json.NewDecoder(stdout), warned: map[string]bool{}}
}

// run has the load generator run l against target name and returns its
// sample, with the CPU the machine, this process (the servers), the
// function processes, the agents and the load generator spent meanwhile.
// The first error of a target at a concurrency is reported with its text:
// a count alone does not say what went wrong.
func (ld *loader) run(name string, l Load) Sample {
	ld.t.Helper()
	ld.mu.Lock()
	defer ld.mu.Unlock()
	pid := ld.cmd.Process.Pid
	busy0, self0, fn0, agent0, load0, opens0 := machineBusy(), processCPU(), functionCPU(), agentCPU(), pidCPU(pid), passiveOpens()
	var res LoadResult
	if err := ld.enc.Encode(l); err != nil {
		ld.t.Fatalf("loadgen: send %s: %v", name, err)
	}
	if err := ld.dec.Decode(&res); err != nil {
		ld.t.Fatalf("loadgen: %s: %v", name, err)
	}
	s := res.sample()
	if busy0 > 0 {
		s.busy = machineBusy() - busy0
	}
	s.self = processCPU() - self0
	s.fn = functionCPU() - fn0
	s.agent = agentCPU() - agent0
	s.load = pidCPU(pid) - load0
	s.opens = passiveOpens() - opens0
	if key := fmt.Sprintf("%s c=%d", name, l.Concurrency); res.FirstError != "" && !ld.warned[key] {
		ld.warned[key] = true
		report(ld.t, "%s: first error: %s", key, res.FirstError)
	}
	return s
}
