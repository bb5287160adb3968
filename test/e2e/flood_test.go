package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"golang.org/x/sys/unix"
)

// These tests attack the API port the way issue 11 found it fall: a flood
// of idle connections, unsigned bodies of 64 MiB, a slowloris, stalled
// bodies. Paddock runs as its own `paddock up` process, so that its file
// descriptors and its memory are its own and can be measured apart from
// the client's.

const (
	floodKey    = "AKIDPADDOCKTEST"
	floodSecret = "paddock-test-secret"
)

// floodServer is a `paddock up` process.
type floodServer struct {
	endpoint string
	addr     string // host:port
	pid      int
	mu       sync.Mutex
	stderr   bytes.Buffer
}

func (s *floodServer) logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

func (s *floodServer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.Write(p)
}

// startFloodServer runs `paddock up` with the extra flags.
func startFloodServer(t *testing.T, flags ...string) *floodServer {
	t.Helper()
	bin := paddockBinary(t)
	args := append([]string{"up", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir()}, flags...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "PADDOCK_ACCESS_KEY_ID="+floodKey, "PADDOCK_SECRET_ACCESS_KEY="+floodSecret)
	s := &floodServer{}
	cmd.Stderr = s
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.pid = cmd.Process.Pid
	exited := make(chan struct{})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if line := sc.Text(); strings.Contains(line, "listens on ") {
				found <- strings.Fields(line[strings.Index(line, "listens on ")+len("listens on "):])[0]
			}
		}
	}()
	go func() { cmd.Wait(); close(exited) }() //nolint:errcheck // exits are checked through exited
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill() //nolint:errcheck
		}
	})
	select {
	case s.endpoint = <-found:
	case <-exited:
		t.Fatalf("paddock up exited:\n%s", s.logs())
	case <-time.After(30 * time.Second):
		t.Fatal("paddock up did not print its endpoint")
	}
	s.addr = strings.TrimPrefix(s.endpoint, "http://")
	return s
}

// rss is the server process's resident memory in bytes.
func (s *floodServer) rss(t *testing.T) int64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// fds is the number of the server's open file descriptors.
func (s *floodServer) fds() int {
	entries, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", s.pid))
	return len(entries)
}

// listFunctions makes one signed call with the AWS SDK.
func (s *floodServer) listFunctions(t *testing.T, what string) {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := client(s.endpoint, floodKey, floodSecret).ListFunctions(c, &lambda.ListFunctionsInput{}); err != nil {
		t.Fatalf("ListFunctions %s: %v\n%s", what, err, tail(s.logs()))
	}
}

func tail(s string) string {
	if len(s) > 4000 {
		return "..." + s[len(s)-4000:]
	}
	return s
}

// raiseNofile lifts the test process's open-files limit to its hard limit
// and returns it.
func raiseNofile(t *testing.T) uint64 {
	t.Helper()
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	rl.Cur = rl.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	return rl.Cur
}

// floodConns opens up to n idle TCP connections to addr, from several
// loopback addresses so that the ephemeral ports do not run out; it stops
// early when this process runs out of descriptors.
func floodConns(t *testing.T, addr string, n int) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, 0, n)
	for i := 0; i < n; i++ {
		d := net.Dialer{Timeout: 20 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i%4))}}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				break
			}
			t.Fatalf("dial %d: %v", i, err)
		}
		conns = append(conns, c)
	}
	return conns
}

// TestFloodIdleConnections opens 20,000 idle connections (as many as this
// process may) and checks a signed call is answered meanwhile and after
// they all close: with the default cap, and with no cap at all, where the
// server runs out of descriptors and must not stop accepting for good.
func TestFloodIdleConnections(t *testing.T) {
	limit := raiseNofile(t)
	n := min(20000, int(limit)-300)
	for _, c := range []struct {
		name   string
		flags  []string
		emfile bool // the server must have run out of descriptors
	}{
		{"default cap", nil, false},
		{"no cap: the server runs out of descriptors", []string{"--max-connections", "0"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			// A long header timeout: the connections must be closed by
			// the cap (or survive the lack of one), not time out.
			s := startFloodServer(t, append([]string{"--header-timeout", "2m"}, c.flags...)...)
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("server log:\n%s", tail(s.logs()))
				}
			})
			if c.emfile {
				// Fewer descriptors than the flood's connections, so
				// that Accept fails with EMFILE as in issue 11.
				lim := unix.Rlimit{Cur: 4000, Max: 4000}
				if err := unix.Prlimit(s.pid, unix.RLIMIT_NOFILE, &lim, nil); err != nil {
					t.Fatalf("prlimit: %v", err)
				}
			}
			s.listFunctions(t, "before the flood")
			start := time.Now()
			conns := floodConns(t, s.addr, n)
			t.Logf("%d idle connections open in %v; the server holds %d descriptors", len(conns), time.Since(start).Round(time.Millisecond), s.fds())
			s.listFunctions(t, "during the flood")
			for _, nc := range conns {
				nc.Close()
			}
			time.Sleep(500 * time.Millisecond)
			s.listFunctions(t, "after the flood")
			// And again, on a new connection each time.
			for i := range 3 {
				s.listFunctions(t, fmt.Sprint("after the flood, call ", i))
			}
			l := s.logs()
			if strings.Contains(l, "API server stopped") {
				t.Fatalf("the API server stopped:\n%s", tail(l))
			}
			if c.emfile && !strings.Contains(l, "too many open files") {
				t.Fatalf("the server never ran out of descriptors (%d connections): the retry path was not exercised", len(conns))
			}
			if !c.emfile && strings.Contains(l, "too many open files") {
				t.Fatalf("the capped server ran out of descriptors:\n%s", tail(l))
			}
		})
	}
}

// zeroReader reads as endless zero bytes, so that 64 MiB bodies are sent
// without being held.
type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestFloodUnsignedBodies sends 6 unsigned CreateFunction requests of
// 64 MiB at once: each gets its 403 without the server reading the body,
// and the server's memory does not grow by a body's size.
func TestFloodUnsignedBodies(t *testing.T) {
	s := startFloodServer(t)
	s.listFunctions(t, "first") // warm: the first call's allocations are not the flood's
	base := s.rss(t)
	const size = 64 << 20
	var peak int64
	stopPoll := make(chan struct{})
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		for {
			if r := s.rss(t); r > peak {
				peak = r
			}
			select {
			case <-stopPoll:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- unsignedPost(s.addr, size, i)
		}()
	}
	wg.Wait()
	time.Sleep(100 * time.Millisecond)
	close(stopPoll)
	<-polled
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	t.Logf("server RSS %d MB before, %d MB at most during the flood (+%d MB)", base>>20, peak>>20, (peak-base)>>20)
	if grew := peak - base; grew >= 64<<20 {
		t.Fatalf("the server's RSS grew by %d MB under 6 unsigned bodies of 64 MiB", grew>>20)
	}
	s.listFunctions(t, "after the flood")
}

// unsignedPost streams an unsigned POST /2015-03-31/functions of size
// bytes and checks its answer: 403 MissingAuthenticationTokenException,
// while the body is still being sent.
func unsignedPost(addr string, size int64, i int) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second)) //nolint:errcheck
	fmt.Fprintf(c, "POST /2015-03-31/functions HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", addr, size)
	sent := make(chan int64, 1)
	go func() {
		n, _ := io.Copy(c, io.LimitReader(zeroReader{}, size))
		sent <- n
	}()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return fmt.Errorf("request %d: read answer: %v", i, err)
	}
	resp.Body.Close()
	code := resp.Header.Get("X-Amzn-ErrorType")
	c.Close() // ends the copy
	n := <-sent
	if resp.StatusCode != http.StatusForbidden || code != "MissingAuthenticationTokenException" {
		return fmt.Errorf("request %d: got %d %q, want 403 MissingAuthenticationTokenException", i, resp.StatusCode, code)
	}
	if n >= size {
		return fmt.Errorf("request %d: the whole body was taken before the answer", i)
	}
	return nil
}

// closedWithin waits for the server to close c, and fails if it takes
// longer than limit. Bytes the server sends first (an error answer) are
// read and skipped.
func closedWithin(t *testing.T, c net.Conn, limit time.Duration, what string) time.Duration {
	t.Helper()
	start := time.Now()
	c.SetReadDeadline(start.Add(limit)) //nolint:errcheck
	_, err := io.Copy(io.Discard, c)
	d := time.Since(start)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("%s: still open after %v", what, limit)
	}
	return d
}

// signedHead writes the head of a request signed for the whole body,
// whose body the caller then sends (or does not).
func signedHead(t *testing.T, c net.Conn, addr, method, path string, body []byte) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+addr+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: floodKey, SecretAccessKey: floodSecret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "lambda", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", method, req.URL.RequestURI(), addr, len(body))
	req.Header.Write(&b) //nolint:errcheck
	b.WriteString("\r\n")
	if _, err := c.Write(b.Bytes()); err != nil {
		t.Fatal(err)
	}
}

// TestFloodSlowClients runs Paddock with short timeouts and checks that a
// slowloris, a stalled body (on the net/http path and on the fast invoke
// path) and an idle kept-alive connection are closed within them.
func TestFloodSlowClients(t *testing.T) {
	const header, window, idle = time.Second, time.Second, 2 * time.Second
	s := startFloodServer(t, "--header-timeout", header.String(), "--body-read-window", window.String(),
		"--body-read-min", "1024", "--conn-idle-timeout", idle.String())
	slack := 2 * time.Second

	t.Run("slowloris", func(t *testing.T) {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		head := "GET /2015-03-31/functions HTTP/1.1\r\nHost: " + s.addr + "\r\nX-Padding: " + strings.Repeat("a", 100) + "\r\n\r\n"
		done := make(chan struct{})
		go func() { // a byte every 200 ms: the head would take 30 s
			defer close(done)
			for i := 0; i < len(head); i++ {
				if _, err := c.Write([]byte{head[i]}); err != nil {
					return
				}
				time.Sleep(200 * time.Millisecond)
			}
		}()
		d := closedWithin(t, c, header+slack, "slowloris")
		t.Logf("slowloris closed after %v (header timeout %v)", d.Round(time.Millisecond), header)
		c.Close()
		<-done
	})

	for _, path := range []string{"/2015-03-31/functions", "/2015-03-31/functions/nosuch/invocations"} {
		t.Run("stalled body "+path, func(t *testing.T) {
			body := bytes.Repeat([]byte("x"), 1<<20)
			c, err := net.Dial("tcp", s.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			signedHead(t, c, s.addr, "POST", path, body)
			if _, err := c.Write(body[:100<<10]); err != nil { // a tenth, then nothing
				t.Fatal(err)
			}
			d := closedWithin(t, c, window+slack, "stalled body")
			t.Logf("stalled body closed after %v (window %v)", d.Round(time.Millisecond), window)
		})
	}

	t.Run("idle kept-alive connection", func(t *testing.T) {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		signedHead(t, c, s.addr, "GET", "/2015-03-31/functions", nil)
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body) //nolint:errcheck
		if resp.StatusCode != 200 {
			t.Fatalf("signed ListFunctions: %d", resp.StatusCode)
		}
		start := time.Now()
		c.SetReadDeadline(start.Add(idle + slack)) //nolint:errcheck
		_, err = br.ReadByte()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("idle connection still open after %v", idle+slack)
		}
		t.Logf("idle connection closed after %v (idle timeout %v)", time.Since(start).Round(time.Millisecond), idle)
	})

	s.listFunctions(t, "after the slow clients")
}
