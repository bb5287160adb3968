package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/paddockhq/paddock/internal/platform"
)

const consoleToken = "console-test-token"

// startConsole is a Paddock with a known console token.
func startConsole(t *testing.T) *env {
	t.Helper()
	p, err := platform.Start(context.Background(), platform.Options{
		DataDir: t.TempDir(), Listen: "127.0.0.1:0",
		AccessKeyID: "AKIDPADDOCKTEST", SecretAccessKey: "paddock-test-secret",
		ConsoleToken: consoleToken,
	})
	if err != nil {
		t.Fatalf("start paddock: %v", err)
	}
	t.Cleanup(p.Close)
	return &env{t: t, p: p, lambda: client(p.Endpoint, p.AccessKeyID, p.SecretAccessKey)}
}

// TestConsoleLoginOverHTTP checks the console's credentials story without
// a browser: the API is closed without a session, the token and the key
// pair open one, a wrong secret does not, and the Lambda API's SigV4 check
// does not apply to /console.
func TestConsoleLoginOverHTTP(t *testing.T) {
	e := startConsole(t)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	res, err := http.Get(e.p.Endpoint + "/console/api/status")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status API without a session: HTTP %d, want 401", res.StatusCode)
	}
	res, err = http.Get(e.p.Endpoint + "/console")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), `action="/console/login"`) {
		t.Fatalf("GET /console without a session: HTTP %d, not the login form:\n%s", res.StatusCode, body)
	}

	for _, tc := range []struct {
		name string
		form url.Values
		ok   bool
	}{
		{"wrong secret", url.Values{"access_key_id": {e.p.AccessKeyID}, "secret_access_key": {"nope"}}, false},
		{"wrong token", url.Values{"token": {"nope"}}, false},
		{"key pair", url.Values{"access_key_id": {e.p.AccessKeyID}, "secret_access_key": {e.p.SecretAccessKey}}, true},
		{"token", url.Values{"token": {consoleToken}}, true},
	} {
		res, err := noRedirect.PostForm(e.p.Endpoint+"/console/login", tc.form)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		var session *http.Cookie
		for _, c := range res.Cookies() {
			if c.Name == "paddock_console" {
				session = c
			}
		}
		if !tc.ok {
			if res.StatusCode != http.StatusUnauthorized || session != nil {
				t.Fatalf("%s: HTTP %d, cookie %v; want 401 and no session", tc.name, res.StatusCode, session)
			}
			continue
		}
		if res.StatusCode != http.StatusSeeOther || session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode {
			t.Fatalf("%s: HTTP %d, cookie %+v; want 303 and an HttpOnly SameSite=Strict session", tc.name, res.StatusCode, session)
		}
		req, _ := http.NewRequest("GET", e.p.Endpoint+"/console/api/status", nil)
		req.AddCookie(session)
		res, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s: status API with the session: HTTP %d", tc.name, res.StatusCode)
		}
	}
}

// browserPath finds a Chromium or Chrome to drive. Without one the browser
// test skips, unless PADDOCK_REQUIRE_BROWSER=1 (CI sets it once
// scripts/install-browser.sh has installed Debian's chromium).
func browserPath(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("PADDOCK_REQUIRE_BROWSER") == "1" {
		t.Fatal("PADDOCK_REQUIRE_BROWSER=1 but no chromium at /usr/bin/chromium or on PATH (run scripts/install-browser.sh)")
	}
	t.Skip("no chromium at /usr/bin/chromium or on PATH; scripts/install-browser.sh installs it")
	return ""
}

// browserContext starts headless chrome for the test (stopped at its end)
// and returns a context of its first tab, bounded to 2 minutes.
func browserContext(t *testing.T, chrome string) context.Context {
	t.Helper()
	profile := filepath.Join(t.TempDir(), "profile")
	t.Cleanup(func() {
		// Chromium's helpers can write into the profile for a moment
		// after the browser exits; retry so that TempDir's removal works.
		for range 50 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chrome),
		chromedp.Headless,
		chromedp.NoSandbox, // root in CI containers
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1400, 1100),
	)
	t.Cleanup(cancelAlloc)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(browserCtx); err != nil { // start the browser, without a timeout
		t.Fatalf("start %s: %v", chrome, err)
	}
	c, cancel := context.WithTimeout(browserCtx, 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

// TestConsoleInBrowser drives the console in headless Chromium: log in with
// the key pair, see the function version and its 3 EEs and its capacity
// provider's instances, invoke, and see the invocations chart change.
// PADDOCK_CONSOLE_SCREENSHOT names where to keep a screenshot; by default
// it goes to the test's temporary directory, never the repository.
func TestConsoleInBrowser(t *testing.T) {
	chrome := browserPath(t)
	e := startConsole(t)
	e.activeFunction("webfn", fnOpts{})

	c := browserContext(t, chrome)

	// A wrong secret shows the error on the login form.
	if err := chromedp.Do(c,
		chromedp.Navigate(e.p.Endpoint+"/console"),
		chromedp.WaitVisible(chromedp.ID("access-key-id")),
		chromedp.SendKeys(chromedp.ID("access-key-id"), e.p.AccessKeyID),
		chromedp.SendKeys(chromedp.ID("secret-access-key"), "not-the-secret"),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.ID("login-error")),
	); err != nil {
		t.Fatalf("login with a wrong secret: %v", err)
	}
	// The key pair logs in and the console draws the fleet.
	if err := chromedp.Do(c,
		chromedp.WaitVisible(chromedp.ID("access-key-id")),
		chromedp.SendKeys(chromedp.ID("access-key-id"), e.p.AccessKeyID),
		chromedp.SendKeys(chromedp.ID("secret-access-key"), e.p.SecretAccessKey),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.ID("versions-table")),
	); err != nil {
		t.Fatalf("login with the key pair: %v", err)
	}
	row := `document.querySelector('tr[data-testid="version-row"][data-key="webfn:1"]')`
	ees, err := chromedp.Run(c, chromedp.Poll[string](
		row+` && `+row+`.querySelector('[data-testid="ees"]').dataset.ready === "3" && `+row+`.querySelector('[data-testid="ees-text"]').textContent`,
		chromedp.WithPollingInterval(200*time.Millisecond), chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		t.Fatalf("the console never listed webfn:1 with 3 ready EEs: %v", err)
	}
	if ees != "3/3" {
		t.Errorf("EEs of webfn:1 read %q, want 3/3", ees)
	}
	instances, err := chromedp.Run(c, chromedp.Evaluate[int](
		`document.querySelectorAll('[data-testid="capacity-provider"][data-name="cp-webfn"] [data-testid="instance"]').length`))
	if err != nil || instances < 1 {
		t.Errorf("capacity provider cp-webfn shows %d instances (err %v), want at least 1", instances, err)
	}

	// The invocations chart has had no invoke yet.
	points := `document.getElementById('chart-invocations').dataset.points`
	before, err := chromedp.Run(c, chromedp.Evaluate[string](points))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Trim(strings.ReplaceAll(before, "0", ""), ",") != "" {
		t.Fatalf("invocations chart before any invoke: %q, want only zeros", before)
	}
	for i := range 20 {
		if _, err := e.invoke("webfn", "1", fmt.Sprintf(`{"n":%d}`, i)); err != nil {
			t.Fatalf("invoke %d: %v", i, err)
		}
	}
	after, err := chromedp.Run(c, chromedp.Poll[string](
		points+`.split(',').some(v => Number(v) > 0) && `+points,
		chromedp.WithPollingInterval(250*time.Millisecond), chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		t.Fatalf("the invocations chart did not change after 20 invokes (it read %q before): %v", before, err)
	}
	t.Logf("invocations chart: before %q, after %q", before, after)
	if _, err := chromedp.Run(c, chromedp.Poll[bool](
		`document.getElementById('cost-requests').textContent === "20"`,
		chromedp.WithPollingInterval(250*time.Millisecond), chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Errorf("the running cost does not count the 20 requests: %v", err)
	}

	shot, err := chromedp.Run(c, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := os.Getenv("PADDOCK_CONSOLE_SCREENSHOT")
	if path == "" {
		path = filepath.Join(t.TempDir(), "console.png")
	}
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}
