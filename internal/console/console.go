// Package console serves Paddock's web console at /console: a read-only
// page of the capacity providers and their instances, the function
// versions and their EEs, live charts of the last 15 minutes and the
// running cost. It is a small static app embedded in the binary (no CDN:
// the machine may be offline) that polls JSON endpoints under
// /console/api/.
//
// The console has its own login, since a browser cannot sign requests with
// SigV4: the API's access key pair, or a console token that `paddock up`
// prints. A login opens a server-side session named by an HttpOnly,
// SameSite=Strict cookie.
package console

import (
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/paddockhq/paddock/internal/billing"
	"github.com/paddockhq/paddock/internal/control"
	"github.com/paddockhq/paddock/internal/lambdaapi"
	"github.com/paddockhq/paddock/internal/ondemand"
)

//go:embed assets
var assets embed.FS

// SessionTTL is how long a console login lasts.
const SessionTTL = 12 * time.Hour

// cookieName names the session cookie.
const cookieName = "paddock_console"

// maxSessions bounds the session table: a login past it drops the sessions
// closest to expiry, so repeated logins cannot grow memory without end.
const maxSessions = 1000

// failedLoginDelay slows down guessing at the login form.
const failedLoginDelay = 300 * time.Millisecond

// Config is what the console shows and who may see it.
type Config struct {
	// AccessKeyID and SecretAccessKey are the API's key pair, accepted at
	// the login form.
	AccessKeyID, SecretAccessKey string
	// Token is also accepted at the login form; empty disables it.
	Token string
	// Fleet is the scaler's view of versions and instances.
	Fleet lambdaapi.StatusSource
	// CapacityProviders lists the control plane's capacity providers.
	CapacityProviders func() []control.CapacityProvider
	// OnDemand reports the default-mode pool; nil: none.
	OnDemand func() ondemand.Stats
	// Meter and Prices make the running cost; a nil Meter shows none.
	Meter  lambdaapi.MeterSource
	Prices billing.Prices
	// Cluster shows the servers and the joined hosts (paddock server);
	// nil: a single Paddock.
	Cluster lambdaapi.ClusterSource
}

// Console is the web console's handler and its live history. It is also
// an invoke observer (lambdaapi.InvokeObserver) that counts invokes for the
// charts.
type Console struct {
	cfg     Config
	mux     *http.ServeMux
	login   *template.Template
	history *History

	mu       sync.Mutex
	sessions map[string]time.Time // session id -> expiry
}

// New returns the console for cfg.
func New(cfg Config) *Console {
	c := &Console{
		cfg:      cfg,
		mux:      http.NewServeMux(),
		login:    template.Must(template.ParseFS(assets, "assets/login.html")),
		history:  NewHistory(),
		sessions: map[string]time.Time{},
	}
	static, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree always has it
	}
	files := http.StripPrefix("/console/assets/", http.FileServerFS(static))
	c.mux.Handle("GET /console/assets/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	}))
	c.mux.HandleFunc("GET /console", c.page)
	c.mux.HandleFunc("GET /console/{$}", c.page)
	c.mux.HandleFunc("POST /console/login", c.postLogin)
	c.mux.HandleFunc("POST /console/logout", c.postLogout)
	c.mux.HandleFunc("GET /console/api/status", c.authed(c.apiStatus))
	c.mux.HandleFunc("GET /console/api/metrics", c.authed(c.apiMetrics))
	c.mux.HandleFunc("GET /console/api/cost", c.authed(c.apiCost))
	c.mux.HandleFunc("/console/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "not found", http.StatusNotFound)
	})
	return c
}

// History returns the console's chart history.
func (c *Console) History() *History { return c.history }

// ObserveInvoke implements lambdaapi.InvokeObserver.
func (c *Console) ObserveInvoke(rec lambdaapi.InvokeRecord) { c.history.ObserveInvoke(rec) }

// ServeHTTP serves everything under /console.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// Everything the page needs comes from here: no inline script, no
	// other origin, no framing.
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	c.mux.ServeHTTP(w, r)
}

// page serves the console to a logged-in browser and the login form to
// anyone else.
func (c *Console) page(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if !c.validSession(r) {
		c.renderLogin(w, http.StatusOK, "")
		return
	}
	data, err := assets.ReadFile("assets/index.html")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(data) //nolint:errcheck // the browser may have left
}

func (c *Console) renderLogin(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := c.login.Execute(w, struct{ Error string }{msg}); err != nil {
		slog.Debug("console login page", "err", err)
	}
}

// postLogin checks the key pair or the token and opens a session.
func (c *Console) postLogin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		c.renderLogin(w, http.StatusBadRequest, "The login form could not be read.")
		return
	}
	if !c.credentialsOK(r.PostForm.Get("access_key_id"), r.PostForm.Get("secret_access_key"), r.PostForm.Get("token")) {
		time.Sleep(failedLoginDelay)
		c.renderLogin(w, http.StatusUnauthorized, "Wrong access key pair or token.")
		return
	}
	id := rand.Text()
	now := time.Now()
	c.mu.Lock()
	c.pruneLocked(now)
	c.sessions[id] = now.Add(SessionTTL)
	c.mu.Unlock()
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: id, Path: "/console", MaxAge: int(SessionTTL.Seconds()),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
	http.Redirect(w, r, "/console", http.StatusSeeOther)
}

// credentialsOK accepts the API's key pair or the console token, comparing
// in constant time. Empty input never matches.
func (c *Console) credentialsOK(keyID, secret, token string) bool {
	if token != "" && c.cfg.Token != "" {
		return subtle.ConstantTimeCompare([]byte(token), []byte(c.cfg.Token)) == 1
	}
	if keyID == "" || secret == "" || c.cfg.AccessKeyID == "" || c.cfg.SecretAccessKey == "" {
		return false
	}
	idOK := subtle.ConstantTimeCompare([]byte(keyID), []byte(c.cfg.AccessKeyID))
	secretOK := subtle.ConstantTimeCompare([]byte(secret), []byte(c.cfg.SecretAccessKey))
	return idOK&secretOK == 1
}

func (c *Console) postLogout(w http.ResponseWriter, r *http.Request) {
	if ck, err := r.Cookie(cookieName); err == nil {
		c.mu.Lock()
		delete(c.sessions, ck.Value)
		c.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/console", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, "/console", http.StatusSeeOther)
}

// pruneLocked drops expired sessions, then the oldest past maxSessions.
func (c *Console) pruneLocked(now time.Time) {
	for id, exp := range c.sessions {
		if !now.Before(exp) {
			delete(c.sessions, id)
		}
	}
	for len(c.sessions) >= maxSessions {
		var oldest string
		var at time.Time
		for id, exp := range c.sessions {
			if oldest == "" || exp.Before(at) {
				oldest, at = id, exp
			}
		}
		delete(c.sessions, oldest)
	}
}

func (c *Console) validSession(r *http.Request) bool {
	ck, err := r.Cookie(cookieName)
	if err != nil || ck.Value == "" {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	exp, ok := c.sessions[ck.Value]
	if ok && !time.Now().Before(exp) {
		delete(c.sessions, ck.Value)
		return false
	}
	return ok
}

// authed answers 401 without a session.
func (c *Console) authed(h func(w http.ResponseWriter, r *http.Request) any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if !c.validSession(r) {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "log in at /console"})
			return
		}
		writeJSON(w, http.StatusOK, h(w, r))
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(status)
	w.Write(data) //nolint:errcheck // the browser may have left
}

// StatusBody is the answer of GET /console/api/status: the fleet as
// `paddock status` sees it, and the default-mode pool.
type StatusBody struct {
	lambdaapi.StatusResponse
	OnDemand *OnDemandStatus `json:"onDemand,omitempty"`
}

// OnDemandStatus summarizes the default-mode pool.
type OnDemandStatus struct {
	EEs        int    `json:"ees"`
	Idle       int    `json:"idle"`
	ColdStarts uint64 `json:"coldStarts"`
	Overflowed uint64 `json:"overflowed"`
}

func (c *Console) apiStatus(http.ResponseWriter, *http.Request) any {
	var cps []control.CapacityProvider
	if c.cfg.CapacityProviders != nil {
		cps = c.cfg.CapacityProviders()
	}
	body := StatusBody{}
	if c.cfg.Fleet != nil {
		body.StatusResponse = lambdaapi.FleetStatus(cps, c.cfg.Fleet.Instances(), c.cfg.Fleet.Status(), time.Now())
	} else {
		body.StatusResponse = lambdaapi.FleetStatus(cps, nil, nil, time.Now())
	}
	if c.cfg.Cluster != nil {
		cs := c.cfg.Cluster.Cluster()
		body.Cluster = &cs
	}
	if c.cfg.OnDemand != nil {
		s := c.cfg.OnDemand()
		body.OnDemand = &OnDemandStatus{EEs: s.EEs, Idle: s.Idle, ColdStarts: s.ColdStarts, Overflowed: s.Overflowed}
	}
	return body
}

func (c *Console) apiMetrics(http.ResponseWriter, *http.Request) any {
	return c.history.Snapshot()
}

// CostBody is the answer of GET /console/api/cost: the bill since Paddock
// started (the meters go back no further).
type CostBody struct {
	Metered bool          `json:"metered"`
	Bill    *billing.Bill `json:"bill,omitempty"`
}

func (c *Console) apiCost(http.ResponseWriter, *http.Request) any {
	if c.cfg.Meter == nil {
		return CostBody{}
	}
	b := billing.Compute(c.cfg.Meter.Meters(time.Time{}), c.cfg.Prices)
	return CostBody{Metered: true, Bill: &b}
}
