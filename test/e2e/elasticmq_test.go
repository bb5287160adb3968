package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// elasticMQAccount is the account in the ARNs of ElasticMQ's queues.
const elasticMQAccount = "000000000000"

// elasticMQLib is where scripts/install-elasticmq.sh puts ElasticMQ's jars.
func elasticMQLib() string {
	dir := os.Getenv("PADDOCK_ELASTICMQ_DIR")
	if dir == "" {
		cache := os.Getenv("XDG_CACHE_HOME")
		if cache == "" {
			cache = filepath.Join(os.Getenv("HOME"), ".cache")
		}
		dir = filepath.Join(cache, "paddock", "elasticmq-1.6.11")
	}
	return filepath.Join(dir, "lib")
}

// startElasticMQ runs ElasticMQ, an SQS-compatible server, on a free port
// of 127.0.0.1 and returns its URL and a client for it; it skips the test
// when its jars are not installed (scripts/install-elasticmq.sh installs
// them) or java is missing. moto_server's SQS is too slow for queues of
// thousands of messages (it slows down with the queue's length);
// ElasticMQ, like SQS, hides a FIFO group's later messages while earlier
// ones are in flight.
func startElasticMQ(t *testing.T) (string, *sqs.Client) {
	t.Helper()
	lib := elasticMQLib()
	if _, err := os.Stat(filepath.Join(lib, ".complete")); err != nil {
		t.Skipf("ElasticMQ's jars are not in %s (scripts/install-elasticmq.sh installs them)", lib)
	}
	java, err := exec.LookPath("java")
	if err != nil {
		t.Skip("java is not on PATH (ElasticMQ needs it)")
	}
	port := freePort(t, "127.0.0.1")
	dir := t.TempDir()
	conf := filepath.Join(dir, "elasticmq.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, `include classpath("application.conf")
node-address { protocol = http, host = 127.0.0.1, port = %d, context-path = "" }
rest-sqs { enabled = true, bind-port = %d, bind-hostname = "127.0.0.1", sqs-limits = strict }
rest-stats { enabled = false }
aws { region = "us-east-1", accountId = %q }
`, port, port, elasticMQAccount), 0o644); err != nil {
		t.Fatal(err)
	}
	// A small heap and no optimizing JIT: the machine is shared with
	// Paddock and the function under test.
	cmd := exec.Command(java, "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-Dconfig.file="+conf, "-cp", filepath.Join(lib, "*"), "org.elasticmq.server.Main")
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	startServer(t, "ElasticMQ", cmd, filepath.Join(dir, "elasticmq.log"), 60*time.Second, func() error {
		// Any answer (an SQS error for a bare GET) means it serves.
		resp, err := http.Get(url + "/")
		if err == nil {
			resp.Body.Close()
		}
		return err
	})
	return url, sqs.New(sqs.Options{BaseEndpoint: aws.String(url), Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")})
}

// startServer starts cmd, a server the test talks to, with its output in
// logPath, so that it is killed if this process dies (Pdeathsig follows
// the thread that started it, so that thread stays locked until cmd
// ends); waits up to within for ready to succeed; and kills it at cleanup,
// logging its output if the test failed. what names it in messages.
func startServer(t *testing.T, what string, cmd *exec.Cmd, logPath string, within time.Duration, ready func() error) {
	t.Helper()
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	started, exited := make(chan error, 1), make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		defer close(exited)
		err := cmd.Start()
		started <- err
		if err == nil {
			cmd.Wait() //nolint:errcheck
		}
		logFile.Close()
	}()
	if err := <-started; err != nil {
		t.Fatalf("start %s: %v", what, err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill() //nolint:errcheck
		<-exited
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("%s log:\n%s", what, b)
		}
	})
	for deadline := time.Now().Add(within); ; {
		err := ready()
		if err == nil {
			return
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(logPath)
			t.Fatalf("%s exited:\n%s", what, b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer within %s: %v", what, within, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
