// Package platform assembles every role of Paddock in one process: the
// embedded engine, the control plane, the scaler loop with the local
// instance provider, the router and the API. `paddock up` and the tests
// start it the same way.
package platform

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/paddockhq/paddock/internal/agent"
	"github.com/paddockhq/paddock/internal/async"
	"github.com/paddockhq/paddock/internal/billing"
	"github.com/paddockhq/paddock/internal/control"
	"github.com/paddockhq/paddock/internal/fleet"
	"github.com/paddockhq/paddock/internal/frontdoor"
	"github.com/paddockhq/paddock/internal/hop"
	"github.com/paddockhq/paddock/internal/joinauth"
	"github.com/paddockhq/paddock/internal/lambdaapi"
	"github.com/paddockhq/paddock/internal/lease"
	"github.com/paddockhq/paddock/internal/livestate"
	"github.com/paddockhq/paddock/internal/meter"
	"github.com/paddockhq/paddock/internal/nethost"
	"github.com/paddockhq/paddock/internal/ondemand"
	"github.com/paddockhq/paddock/internal/router"
	"github.com/paddockhq/paddock/internal/runtimes"
	"github.com/paddockhq/paddock/internal/sandbox"
	"github.com/paddockhq/paddock/internal/scaler"
	"github.com/paddockhq/paddock/internal/sigv4"
	"github.com/paddockhq/paddock/internal/store"
)

// ExternalAgentCredentialTTL is Options.AgentCredentialTTL's default: an
// agent reconnects once a minute, a callout each, and a revoked token's
// agents are out within a minute.
const ExternalAgentCredentialTTL = time.Minute

// Options configure a platform.
type Options struct {
	DataDir         string // JetStream data and code cache
	Listen          string // API address, e.g. "127.0.0.1:9400"
	AccessKeyID     string // generated with the secret when empty
	SecretAccessKey string
	LaunchDelay     time.Duration // instance launch delay of the local provider
	Region          string        // default us-east-1
	// EmptyInstanceCooldown is how long an instance without EEs lives on
	// (default scaler.DefaultEmptyInstanceCooldown).
	EmptyInstanceCooldown time.Duration
	// Tuning shortens the autoscaler's windows (tests; zero: defaults).
	Tuning scaler.Tuning
	// IdleTimeout stops default-mode EEs idle this long (default 10m).
	IdleTimeout time.Duration
	// AccountConcurrency is the account's concurrency limit (default 1000).
	AccountConcurrency int
	// SavingsPlan is a discount (0..1) on LMI instance cost in bills.
	SavingsPlan float64
	// AsyncDelays are the waits between deliveries of an asynchronous
	// invoke (nil: Lambda's, async.LambdaDelays); AsyncConcurrency is how
	// many events this server delivers at once (0: 64).
	AsyncDelays      *async.Delays
	AsyncConcurrency int
	// AWSEndpoint is the URL of the AWS APIs asynchronous invocation
	// records are sent to (SQS, SNS, EventBridge); "": AWS's, or the SDK's
	// AWS_ENDPOINT_URL. Credentials come from the SDK's default chain.
	AWSEndpoint string
	// EventNATSURL is the NATS server (its client URLs, comma-separated)
	// whose JetStream streams NATS event source mappings read; "": they are
	// not run. EventNATSCreds is a credentials file (JWT and nkey) for it.
	// It is the users' NATS, never Paddock's own engine, whose subjects
	// hold the platform's state.
	EventNATSURL, EventNATSCreds string
	// FunctionURLDomain, when set, is where function URLs are answered as
	// host names: "localhost:9400" (or "https://lambda.example.com") gives
	// http://ID.lambda-url.REGION.localhost:9400/, which needs that wildcard
	// name to reach this API port. Unset, FunctionUrl is the path form
	// ENDPOINT/lambda-url/ID/, which always works (both forms are served).
	FunctionURLDomain string
	// LogRetention and LogMaxBytes bound the function log stream (zero:
	// the logs role's defaults).
	LogRetention time.Duration
	LogMaxBytes  int64
	// MetricsListen serves /metrics on its own address ("" : on the API's).
	MetricsListen string
	// ConsoleToken is a login token for the web console ("": one is made).
	ConsoleToken string
	// CredentialsFile holds more users' keys (AWS shared-credentials format).
	CredentialsFile string
	// NoAuth turns request signing checks off (local experiments only).
	NoAuth bool
	// Sandbox is "strict" or "best-effort" ("" is best-effort): how
	// function processes are confined (package sandbox).
	Sandbox string
	// RuntimePaths maps managed runtimes to the interpreters they run on
	// (--runtime-path); RuntimesDir is where the runtime clients are
	// ("": runtimes.DefaultDir()). See internal/runtimes.
	RuntimePaths runtimes.Mapping
	RuntimesDir  string
	// The API port's defenses against floods (package frontdoor):
	// MaxConnections caps its open connections (0: frontdoor's default,
	// from RLIMIT_NOFILE; negative: no cap); ConnIdleTimeout closes a
	// kept-alive connection idle this long (0: 60 s); HeaderTimeout bounds
	// a request head (0: 10 s); a request body must bring BodyReadMin
	// bytes in every BodyReadWindow (0: 16 KiB per 10 s).
	MaxConnections  int
	ConnIdleTimeout time.Duration
	HeaderTimeout   time.Duration
	BodyReadWindow  time.Duration
	BodyReadMin     int64
	// Provider is where LMI instances come from: "local" (the default:
	// agents in this process), "static" (agents that join through the
	// engine's client port, EngineListen, with JoinToken) or "ec2"
	// (instances launched with RunInstances whose user data starts an agent
	// that joins like a static one; see fleet.EC2).
	Provider     string
	EngineListen string
	JoinToken    string
	// An external NATS JetStream cluster instead of an embedded node:
	// NATSURL is its client URLs, comma-separated (then EngineListen,
	// ClusterListen and ClusterPeers must be empty); Paddock connects with
	// NATSCreds (a .creds file) and/or NATSUser and NATSPassword, and keeps
	// its buckets with NATSReplicas replicas (default 3). Agents join that
	// cluster and are admitted by the servers' auth callout, which the
	// cluster's configuration must delegate to (ExternalNATSConfig).
	NATSURL      string
	NATSCreds    string
	NATSUser     string
	NATSPassword string
	NATSReplicas int
	// AgentCredentialTTL is how long an agent's admission to an external
	// cluster lasts before it must reconnect and show its token again
	// (default ExternalAgentCredentialTTL): the servers cannot disconnect
	// another operator's clients, so it is how soon a revoked token's
	// agents are shut out there. On the embedded engine they are
	// disconnected at once, and admissions do not expire.
	AgentCredentialTTL time.Duration
	// The ec2 provider: EC2Endpoint is the EC2 API's URL ("": AWS's, for
	// Region; credentials come from the AWS SDK's default chain);
	// EC2ImageIDs the AMIs instances boot, one per architecture, with
	// paddock at AgentPath (default fleet.DefaultAgentPath); EC2JoinURL the engine URLs as the
	// instances reach them (default: EngineURL); EC2LaunchTimeout how long
	// an instance has to join (default fleet.DefaultEC2LaunchTimeout).
	EC2Endpoint      string
	EC2ImageIDs      []string
	EC2JoinURL       string
	AgentPath        string
	EC2LaunchTimeout time.Duration
	// A static server may be one of several: ClusterListen is its engine
	// node's route address and ClusterPeers the others' route URLs
	// (package store, Cluster); NodeName names the node (default: kept in
	// the data dir). AdvertiseURL is where the other servers reach this
	// one's API when it leads (default: Endpoint).
	ClusterListen string
	ClusterPeers  []string
	NodeName      string
	ClusterSecret string
	AdvertiseURL  string
	// ShutdownTimeout is how long Close waits for invokes in progress
	// before it cuts the rest short (they are answered ServiceException).
	// Zero: the longest Timeout among the functions, within
	// [MinShutdownTimeout, MaxShutdownTimeout].
	ShutdownTimeout time.Duration
}

// Bounds of the default drain window at Close (Options.ShutdownTimeout).
const (
	MinShutdownTimeout = 5 * time.Second
	MaxShutdownTimeout = 60 * time.Second
)

// Defaults of the API port's flood limits.
const (
	DefaultConnIdleTimeout = 60 * time.Second
	DefaultHeaderTimeout   = 10 * time.Second
	DefaultBodyReadWindow  = 10 * time.Second
	DefaultBodyReadMin     = 16 << 10
)

// apiServer is the API port's server with the flood limits of opts.
func apiServer(opts Options, h http.Handler, match func(method, path string) bool) *frontdoor.Server {
	s := &frontdoor.Server{
		Handler: h, Match: match,
		MaxConns:          opts.MaxConnections,
		IdleTimeout:       cmp.Or(opts.ConnIdleTimeout, DefaultConnIdleTimeout),
		ReadHeaderTimeout: cmp.Or(opts.HeaderTimeout, DefaultHeaderTimeout),
		BodyReadWindow:    cmp.Or(opts.BodyReadWindow, DefaultBodyReadWindow),
		BodyReadMin:       cmp.Or(opts.BodyReadMin, DefaultBodyReadMin),
	}
	switch {
	case s.MaxConns == 0:
		s.MaxConns = frontdoor.DefaultMaxConns()
	case s.MaxConns < 0:
		s.MaxConns = 0
	}
	return s
}

// Platform is a running Paddock.
type Platform struct {
	Endpoint        string // "http://host:port"
	AccessKeyID     string
	SecretAccessKey string
	Region          string

	Control  *control.Service
	Scaler   *scaler.Loop
	Provider *fleet.Local  // nil unless the provider is local
	Static   *fleet.Static // nil unless the provider is static
	// EngineURL is where agents join ("" unless the engine listens): the
	// embedded engine's client URL, or the external cluster's URLs.
	EngineURL string
	OnDemand  *ondemand.Pool

	store   *store.Store
	server  *frontdoor.Server
	api     *lambdaapi.API
	drain   time.Duration // Options.ShutdownTimeout
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	closers []func() // run in reverse at Close, after the loops stopped

	leading       atomic.Bool  // this server runs the control loops and writes the configuration
	leadingSince  atomic.Int64 // unix ns: when it last began to
	leaderChanges atomic.Uint64
	leases        jetstream.KeyValue
	self          string // the API URL other servers reach this one at

	async     *async.Workers
	stopAsync context.CancelFunc
}

// Leading reports whether this server is the leader: it runs the scaler
// and the fleet, settles functions and writes the configuration.
func (p *Platform) Leading() bool { return p.leading.Load() }

// leaseTTL bounds how long the cluster is without a leader when the
// leader dies: the next one takes over within a TTL and a campaign round.
const leaseTTL = 5 * time.Second

// leaderKey is the role the lease elects, in leasesBucket.
const (
	leaderKey    = "leader"
	leasesBucket = "paddock-leases"
)

// campaign runs the election of the servers that share the engine: the
// winner runs the control loops (settling functions, the scaler with
// the fleet) and writes the configuration; every server follows the
// configuration the leader writes and forwards writes to it.
func (p *Platform) campaign(ctx context.Context, opts Options) error {
	leases, err := p.store.KeyValue(ctx, lease.Config(leasesBucket, leaseTTL))
	if err != nil {
		return err
	}
	p.leases = leases
	self := cmp.Or(opts.AdvertiseURL, p.Endpoint)
	if u, err := url.Parse(self); err != nil || u.Hostname() == "" || net.ParseIP(u.Hostname()).IsUnspecified() {
		return fmt.Errorf("the API listens on every address (%s): say where the other servers reach this one with --advertise-url http://HOST:PORT", self)
	}
	p.self = self
	p.api.HandleCluster(p)
	p.api.ForwardWritesTo(func() (string, bool) {
		if p.leading.Load() {
			return self, true
		}
		e, err := leases.Get(ctx, leaderKey)
		if err != nil {
			return "", false
		}
		return string(e.Value()), string(e.Value()) == self
	})
	el := &lease.Elector{KV: leases, Key: leaderKey, ID: self, TTL: leaseTTL}
	p.wg.Add(3)
	go func() { defer p.wg.Done(); p.announce(ctx, p.store.NodeName(), self) }()
	go func() { defer p.wg.Done(); p.Control.Follow(ctx, p.leading.Load) }()
	go func() {
		defer p.wg.Done()
		el.Run(ctx, func(lead context.Context) {
			// The last leader's writes may not have reached this follower
			// yet. The store may be electing new raft leaders (the last
			// leader's node died with it): keep the lease and try again
			// rather than campaign from the start.
			// Short attempts first: a read that waits on a stream electing a
			// new raft leader waits out its whole timeout (seen: 5 s lost
			// after the stream was back); a large configuration gets longer.
			for attempt := time.Second; ; attempt = min(2*attempt, 30*time.Second) {
				rctx, cancel := context.WithTimeout(lead, attempt)
				err := p.Control.Reload(rctx)
				cancel()
				if err == nil {
					break
				}
				if lead.Err() != nil {
					return
				}
				slog.Warn("leading: reload configuration failed; trying again", "err", err)
				select {
				case <-lead.Done():
					return
				case <-time.After(100 * time.Millisecond):
				}
			}
			p.setLeading(true)
			slog.Info("leading: running the scaler and the fleet", "server", self)
			defer func() {
				p.setLeading(false)
				slog.Info("no longer leading", "server", self)
			}()
			var wg sync.WaitGroup
			wg.Add(3)
			go func() { defer wg.Done(); p.store.LeadElsewhere(lead, "KV_"+leasesBucket) }()
			go func() { defer wg.Done(); p.Control.Settle(lead) }()
			go func() { defer wg.Done(); p.Scaler.Run(lead) }()
			wg.Wait()
		})
	}()
	return nil
}

// forget removes the binding of an instance's host id once the instance
// is gone for good (nil without agents' auth).
func forget(joins *joinauth.Service) func(host string) {
	if joins == nil {
		return nil
	}
	return func(host string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := joins.Forget(ctx, host); err != nil {
			slog.Warn("forget a terminated instance's agent", "host", host, "err", err)
		}
	}
}

// hostForgetter forgets a joined host: the static provider's records of it
// (which takes it off every server) and its id's binding to its agent's key.
type hostForgetter struct {
	static *fleet.Static
	joins  *joinauth.Service
}

func (f hostForgetter) ForgetHost(ctx context.Context, id string) error {
	known, err := f.static.Forget(ctx, id)
	if err != nil {
		return err
	}
	bound, err := f.joins.Bound(ctx, id)
	if err != nil {
		return err
	}
	if !known && !bound {
		return fleet.ErrNoHost
	}
	if err := f.joins.Forget(ctx, id); err != nil {
		return err
	}
	slog.Info("host forgotten", "role", "fleet", "host", id)
	return nil
}

// ec2ClusterTag names this cluster on its EC2 instances: the public key
// of the issuer every server derives from the secrets they share.
func ec2ClusterTag(issuer nkeys.KeyPair) string {
	if issuer == nil {
		return ""
	}
	pub, _ := issuer.PublicKey()
	return pub
}

// localHostsPrefix is where the processes provider's hosts get their
// addresses: 198.18.0.0/15 is for benchmarking networks (RFC 2544), never
// routed on the internet; slot 0's gateway (198.18.0.1) is the engine's.
const localHostsPrefix = "198.18.0.0/15"

// Start brings every role up and returns once the API listens.
func Start(ctx context.Context, opts Options) (*Platform, error) {
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:9400"
	}
	if (opts.AccessKeyID == "") != (opts.SecretAccessKey == "") {
		return nil, errors.New("give both the access key id and the secret access key, or neither")
	}
	if opts.AccessKeyID == "" {
		opts.AccessKeyID, opts.SecretAccessKey = GenerateKeys()
	}
	switch opts.Sandbox {
	case "", "best-effort":
		sandbox.Require(false) //nolint:errcheck // never fails when not strict: logs what is missing, once
	case "strict":
		if _, err := sandbox.Require(true); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("sandbox must be strict or best-effort, not %q", opts.Sandbox)
	}
	// EEs run with their code directory as working directory, so every
	// path handed to them must not depend on Paddock's own.
	dataDir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	opts.DataDir = dataDir
	if err := checkExternal(&opts); err != nil {
		return nil, err
	}
	var localNet *nethost.Network // the processes provider's hosts
	started := false              // every resource below is the platform's to release
	var removeAnchor func()
	switch opts.Provider {
	case "", "local":
	case "processes":
		if opts.JoinToken == "" || opts.NATSURL != "" {
			return nil, errors.New("the processes provider needs a join token and the embedded engine")
		}
		// The agents reach the engine on an address of this machine that
		// every host's default route leads to.
		localNet = &nethost.Network{Prefix: netip.MustParsePrefix(localHostsPrefix), LinkPrefix: "plh", LockDir: "/run/paddock/hosts", FirstSlot: 1}
		anchor, remove, err := localNet.Anchor()
		if err != nil {
			return nil, fmt.Errorf("the processes provider: %w", err)
		}
		defer func() {
			if !started {
				remove()
			}
		}()
		removeAnchor = remove
		_, port, _ := net.SplitHostPort(opts.EngineListen)
		opts.EngineListen = net.JoinHostPort(anchor.String(), cmp.Or(port, "0"))
	case "static", "ec2":
		if (opts.EngineListen == "" && opts.NATSURL == "") || opts.JoinToken == "" {
			return nil, fmt.Errorf("the %s provider needs the engine's client address (or an external NATS cluster) and a join token", opts.Provider)
		}
		if opts.Provider == "ec2" && len(opts.EC2ImageIDs) == 0 {
			return nil, errors.New("the ec2 provider needs the image id (AMI) its instances boot")
		}
	default:
		return nil, fmt.Errorf("instance provider must be local, processes, static or ec2, not %q", opts.Provider)
	}
	var issuer nkeys.KeyPair // signs the answers of the agents' auth callout
	listen := store.Listen{Addr: opts.EngineListen, JoinToken: opts.JoinToken, Cluster: store.Cluster{
		Addr: opts.ClusterListen, Peers: opts.ClusterPeers, NodeName: opts.NodeName, Secret: opts.ClusterSecret}}
	if opts.EngineListen != "" || (opts.NATSURL != "" && opts.JoinToken != "") {
		if issuer, err = joinauth.Issuer(opts.ClusterSecret, opts.JoinToken); err != nil {
			return nil, err
		}
		if listen.AgentIssuer, err = issuer.PublicKey(); err != nil {
			return nil, err
		}
	}
	var st *store.Store
	engineURL := "" // where agents join
	if opts.NATSURL != "" {
		if st, err = connectExternal(ctx, opts); err != nil {
			return nil, err
		}
		engineURL = joinURLs(opts.NATSURL)
		slog.Info("engine: an external NATS cluster", "url", engineURL, "replicas", st.Replicas(), "server", st.NodeName())
	} else {
		if st, err = store.OpenEmbeddedListening(ctx, filepath.Join(opts.DataDir, "engine"), listen); err != nil {
			return nil, err
		}
		engineURL = st.ClientURL()
	}
	var joins *joinauth.Service
	if issuer != nil {
		if joins, err = joinauth.New(ctx, st, issuer, opts.JoinToken, st.DisconnectUser); err != nil {
			st.Close()
			return nil, err
		}
		if opts.NATSURL != "" {
			joins.UserTTL = cmp.Or(opts.AgentCredentialTTL, ExternalAgentCredentialTTL)
		}
	}
	hostRuntimes := findRuntimes(ctx, opts.RuntimePaths, opts.RuntimesDir)
	ctl, err := control.Open(ctx, st, control.Options{Region: opts.Region, AccountConcurrency: opts.AccountConcurrency, Runtimes: hostRuntimes})
	if err != nil {
		st.Close()
		return nil, err
	}
	cache := agent.NewCodeCache(filepath.Join(opts.DataDir, "code"), st.GetCode)
	rt := router.New()
	outputs := &fanout{}
	var provider fleet.Provider
	local := &fleet.Local{Cache: cache, LaunchDelay: opts.LaunchDelay, Output: outputs, Runtimes: hostRuntimes}
	var static *fleet.Static
	var processes *fleet.Processes
	if opts.Provider == "static" || opts.Provider == "ec2" || opts.Provider == "processes" {
		kv, err := livestate.Create(ctx, st)
		if err != nil {
			st.Close()
			return nil, err
		}
		static = fleet.NewStatic(st.Conn(), kv, hop.NewClient(), rt)
		provider, local = static, nil
		if opts.Provider == "processes" {
			agentPath := opts.AgentPath
			if agentPath == "" {
				if agentPath, err = os.Executable(); err != nil {
					st.Close()
					return nil, err
				}
			}
			processes = fleet.NewProcesses(static, fleet.ProcessesConfig{AgentPath: agentPath, JoinURL: st.ClientURL(),
				JoinToken: opts.JoinToken, DataDir: filepath.Join(opts.DataDir, "instances"), Network: *localNet, Forget: forget(joins),
				RuntimeArgs: runtimeArgs(opts.RuntimePaths, opts.RuntimesDir)})
			provider = processes
		}
		if opts.Provider == "ec2" {
			joinURL := cmp.Or(opts.EC2JoinURL, engineURL)
			first, _, _ := strings.Cut(joinURL, ",")
			if u, err := url.Parse(first); opts.EC2JoinURL == "" && (err != nil || u.Hostname() == "" || net.ParseIP(u.Hostname()).IsUnspecified()) {
				st.Close()
				return nil, fmt.Errorf("the ec2 provider's instances cannot join the engine at %s: give the URL they reach it at (EC2JoinURL, --ec2-join-url)", joinURL)
			} else if opts.EC2JoinURL == "" && net.ParseIP(u.Hostname()).IsLoopback() {
				slog.Warn("the ec2 provider's instances join the engine at a loopback address: only an instance on this machine reaches it (set --ec2-join-url)", "url", joinURL)
			}
			cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(opts.Region))
			if err != nil {
				st.Close()
				return nil, fmt.Errorf("ec2 provider: AWS configuration: %w", err)
			}
			client := ec2.NewFromConfig(cfg, func(o *ec2.Options) {
				if opts.EC2Endpoint != "" {
					o.BaseEndpoint = aws.String(opts.EC2Endpoint)
				}
			})
			provider = fleet.NewEC2(static, fleet.EC2Config{
				Client: client, Images: opts.EC2ImageIDs, JoinURL: joinURL, JoinToken: opts.JoinToken, Cluster: ec2ClusterTag(issuer), Forget: forget(joins),
				AgentPath: opts.AgentPath, Timeout: opts.EC2LaunchTimeout,
				Network: func(name string) (subnets, groups []string) {
					for _, cp := range ctl.CapacityProviders() {
						if cp.Name == name {
							return cp.SubnetIDs, cp.SecurityGroupIDs
						}
					}
					return nil, nil
				},
			})
		}
	} else {
		provider = local
	}
	loop := scaler.NewLoop(ctl, rt, provider)
	loop.ExternalRoutes = static != nil // every server routes from the live state
	loop.EmptyInstanceCooldown = opts.EmptyInstanceCooldown
	loop.Tuning = opts.Tuning
	creds := sigv4.StaticCredentials{opts.AccessKeyID: opts.SecretAccessKey}
	if opts.CredentialsFile != "" {
		f, err := os.Open(opts.CredentialsFile)
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("credentials file: %w", err)
		}
		more, err := sigv4.ReadCredentialsFile(f)
		f.Close()
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("credentials file %s: %w", opts.CredentialsFile, err)
		}
		for id, secret := range more {
			creds[id] = secret
		}
	}
	verifier := &sigv4.Verifier{Credentials: creds, Service: "lambda"}
	if opts.NoAuth {
		slog.Warn("authentication is OFF (--no-auth): anyone who reaches the API can deploy and run code")
		verifier = nil
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("listen on %s: %w", opts.Listen, err)
	}
	pool := ondemand.New(ctl, func(notify func(agent.Event)) *agent.Agent {
		a := agent.New("i-ondemand", cache, notify)
		a.Output = outputs
		a.Runtimes = hostRuntimes
		return a
	})
	if opts.IdleTimeout > 0 {
		pool.IdleTimeout = opts.IdleTimeout
	}
	prices := billing.DefaultPrices()
	prices.SavingsPlanDiscount = opts.SavingsPlan
	if err := prices.Validate(); err != nil {
		st.Close()
		return nil, err
	}
	rec := meter.New(time.Now())
	rec.Shape = func(function string) (billing.FunctionMeter, bool) { return functionShape(ctl, function) }
	meters, err := meter.Keep(ctx, st, rec) // loads the kept minutes: saved in batches from Start to Close
	if err != nil {
		ln.Close()
		st.Close()
		return nil, err
	}
	loop.Meter = rec
	api := lambdaapi.New(ctl, rt, verifier)
	api.HandleStatus(loop)
	api.UseOnDemand(pool)
	api.UseCodeStore(st)
	api.UseMeter(rec)
	api.HandleCost(rec, prices)
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p := &Platform{
		Endpoint: "http://" + ln.Addr().String(), AccessKeyID: opts.AccessKeyID, SecretAccessKey: opts.SecretAccessKey,
		Region: opts.Region, Control: ctl, Scaler: loop, Provider: local, Static: static, EngineURL: engineURL, store: st, cancel: cancel,
		server: apiServer(opts, api, lambdaapi.IsInvoke), api: api, drain: opts.ShutdownTimeout,
	}
	p.OnDemand = pool
	w := &wiring{ctx: runCtx, opts: opts, store: st, ctl: ctl, loop: loop, pool: pool, meter: rec, api: api, outputs: outputs, p: p, verify: verifier}
	for _, wire := range []func(*wiring) error{wireLogs, wireCode, wireAsync, wirePollers, wireFunctionURLs, wireSchedules, wireMetrics, wireConsole} {
		if err := wire(w); err != nil {
			cancel()
			p.wg.Wait()
			ln.Close()
			st.Close()
			return nil, err
		}
	}
	meters.Start()
	p.closers = append(p.closers, meters.Close) // runs after the loops and the API stopped
	if removeAnchor != nil {
		p.closers = append(p.closers, removeAnchor)
	}
	if processes != nil {
		p.closers = append(p.closers, processes.Close) // before the anchor goes: closers run last first
	}
	if joins != nil {
		stopJoins, err := joins.Run(runCtx)
		if err != nil {
			cancel()
			p.wg.Wait()
			ln.Close()
			st.Close()
			return nil, fmt.Errorf("answer agents' connections: %w", err)
		}
		p.closers = append(p.closers, stopJoins)
		api.HandleJoinTokens(joins)
		if static != nil {
			api.HandleHosts(hostForgetter{static: static, joins: joins})
		}
	}
	if static != nil {
		p.wg.Add(1)
		go func() { defer p.wg.Done(); static.Run(runCtx) }()
		// Serve once the router has the EEs that are running: a server that
		// joins (or restarts) would otherwise throttle its first invokes.
		select {
		case <-static.Ready():
		case <-time.After(10 * time.Second):
			slog.Warn("serving before the live state was read: the first invokes may be throttled")
		}
	}
	if static != nil {
		if err := p.campaign(runCtx, opts); err != nil {
			cancel()
			p.wg.Wait()
			ln.Close()
			st.Close()
			return nil, err
		}
	} else {
		p.leading.Store(true)
		p.wg.Add(2)
		go func() { defer p.wg.Done(); ctl.Settle(runCtx) }()
		go func() { defer p.wg.Done(); loop.Run(runCtx) }()
	}
	p.wg.Add(2)
	go func() { defer p.wg.Done(); pool.Run(runCtx) }()
	go func() {
		defer p.wg.Done()
		if err := p.server.Serve(ln); err != nil && !errors.Is(err, frontdoor.ErrServerClosed) {
			slog.Error("API server stopped", "err", err)
		}
	}()
	started = true
	return p, nil
}

// checkExternal validates the options of an external NATS cluster and
// sets their defaults.
func checkExternal(opts *Options) error {
	if opts.NATSURL == "" {
		if opts.NATSCreds != "" || opts.NATSUser != "" || opts.NATSPassword != "" {
			return errors.New("NATS credentials (--nats-creds, --nats-user, --nats-password) are for an external cluster: give its URLs too (--nats-url)")
		}
		return nil
	}
	var embedded []string
	if opts.EngineListen != "" {
		embedded = append(embedded, "--engine-listen (EngineListen)")
	}
	if opts.ClusterListen != "" {
		embedded = append(embedded, "--cluster-listen (ClusterListen)")
	}
	if len(opts.ClusterPeers) > 0 {
		embedded = append(embedded, "--cluster-peers (ClusterPeers)")
	}
	if len(embedded) > 0 {
		return fmt.Errorf("an external NATS cluster (--nats-url %s) replaces the embedded engine, and agents join that cluster: drop %s", opts.NATSURL, strings.Join(embedded, " and "))
	}
	for _, u := range strings.Split(opts.NATSURL, ",") {
		if _, err := natsURL(u); err != nil {
			return err
		}
	}
	if opts.NATSReplicas == 0 {
		opts.NATSReplicas = 3
	}
	if opts.NATSReplicas < 1 || opts.NATSReplicas > 5 {
		return fmt.Errorf("NATS replicas must be 1 to 5 (JetStream's limits), not %d", opts.NATSReplicas)
	}
	if opts.NATSPassword != "" && opts.NATSUser == "" {
		return errors.New("a NATS password (--nats-password) needs its user (--nats-user)")
	}
	if opts.NATSCreds == "" && opts.NATSUser == "" {
		slog.Warn("connecting to the external NATS cluster without credentials: it must admit Paddock's connection without them, and only delegates agents to Paddock's auth callout if it has Paddock's user among its auth_users (see README, An external NATS cluster)")
	}
	return nil
}

// natsURL parses one client URL ("nats://host:4222", or "host:4222").
func natsURL(raw string) (*url.URL, error) {
	raw = strings.TrimSpace(raw)
	if !strings.Contains(raw, "://") {
		raw = "nats://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return nil, fmt.Errorf("NATS URL %q: not a client URL (nats://HOST:4222)", raw)
	}
	return u, nil
}

// joinURLs is the external cluster's URLs as agents are told them:
// without any user or password they may carry.
func joinURLs(urls string) string {
	var out []string
	for _, raw := range strings.Split(urls, ",") {
		if u, err := natsURL(raw); err == nil {
			u.User = nil
			out = append(out, u.String())
		}
	}
	return strings.Join(out, ",")
}

// connectExternal opens the store on the external NATS cluster.
func connectExternal(ctx context.Context, opts Options) (*store.Store, error) {
	var nopts []nats.Option
	if opts.NATSCreds != "" {
		nopts = append(nopts, nats.UserCredentials(opts.NATSCreds))
	}
	if opts.NATSUser != "" {
		nopts = append(nopts, nats.UserInfo(opts.NATSUser, opts.NATSPassword))
	}
	st, err := store.ConnectServer(ctx, filepath.Join(opts.DataDir, "engine"), opts.NodeName, opts.NATSURL, opts.NATSReplicas, nopts...)
	if err != nil {
		return nil, fmt.Errorf("%w (the external NATS cluster must admit Paddock's user, have JetStream on, and room for %d replicas: see the configuration printed above, and README, An external NATS cluster)", err, opts.NATSReplicas)
	}
	return st, nil
}

// ExternalNATSConfig is what an external NATS cluster's configuration
// needs for Paddock (opts.NATSURL): Paddock's own user, among the auth
// callout's auth_users, and the callout delegated to the servers'
// joinauth with the issuer they derive from the join token and the
// cluster secret. An nkey user that nobody can use (no one has its seed,
// and it may do nothing) is there for its side effect: a server with
// nkey users sends every client a nonce, which agents sign with their
// own key (nats-server's AlwaysEnableNonce has no configuration-file
// setting).
func ExternalNATSConfig(opts Options) (string, error) {
	issuer, err := joinauth.Issuer(opts.ClusterSecret, opts.JoinToken)
	if err != nil {
		return "", err
	}
	pub, err := issuer.PublicKey()
	if err != nil {
		return "", err
	}
	seed, err := issuer.Seed()
	if err != nil {
		return "", err
	}
	raw := sha256.Sum256(append([]byte("paddock nonce user\n"), seed...))
	nonceUser, err := nkeys.FromRawSeed(nkeys.PrefixByteUser, raw[:])
	if err != nil {
		return "", err
	}
	nonceKey, err := nonceUser.PublicKey()
	if err != nil {
		return "", err
	}
	user := cmp.Or(opts.NATSUser, "paddock")
	return fmt.Sprintf(`# In the nats-server configuration of every node of the cluster (JetStream on).
# Paddock's user bypasses the auth callout; every other client is admitted, or
# not, by the Paddock servers (agents: host id, join token, a key of their own).
# $PADDOCK_NATS_PASSWORD is read from nats-server's environment: or write the
# password, or its bcrypt hash (nats server passwd), in its place.
# Asynchronous invokes carry payloads of up to 1 MB, with headers.
max_payload: %d
authorization {
  users: [
    {user: %q, password: $PADDOCK_NATS_PASSWORD}
    # nobody has this key's seed, and it may do nothing: an nkey user makes
    # the server send the nonce that agents sign
    {nkey: %s, permissions: {publish: {deny: ">"}, subscribe: {deny: ">"}}}
  ]
  auth_callout {
    issuer: %s
    auth_users: [%q]
  }
}
`, store.MaxPayload, user, nonceKey, pub, user), nil
}

// ShutdownTimeout is the drain window Close gives invokes in progress:
// Options.ShutdownTimeout, or by default the longest Timeout among the
// functions and their versions (an invoke may run that long), at least
// MinShutdownTimeout and at most MaxShutdownTimeout.
func (p *Platform) ShutdownTimeout() time.Duration {
	if p.drain > 0 {
		return p.drain
	}
	longest := 0
	for marker := ""; ; {
		fns, next, err := p.Control.ListFunctions(marker, 50, true)
		if err != nil {
			break
		}
		for _, c := range fns {
			longest = max(longest, c.Timeout)
		}
		if next == "" || next == marker {
			break
		}
		marker = next
	}
	return min(max(time.Duration(longest)*time.Second, MinShutdownTimeout), MaxShutdownTimeout)
}

// Close stops the API, every EE and instance, and the engine. Invokes in
// progress get ShutdownTimeout to finish; the rest are cut short with a
// ServiceException (never an empty success), and their number is logged.
func (p *Platform) Close() {
	shutdownCtx, cancel := context.WithTimeout(context.Background(), p.ShutdownTimeout())
	defer cancel()
	if p.stopAsync != nil {
		p.stopAsync() // no new deliveries; those in progress drain with the API's invokes
	}
	p.server.Shutdown(shutdownCtx) //nolint:errcheck // Close below ends what is left
	p.server.Close()               //nolint:errcheck
	slog.Info("invokes cut by shutdown", "n", p.api.CutInvokes())
	p.cancel()
	p.wg.Wait()
	for i := len(p.closers) - 1; i >= 0; i-- {
		p.closers[i]()
	}
	p.store.Close()
}

// functionShape describes a function for its meters.
func functionShape(ctl *control.Service, function string) (billing.FunctionMeter, bool) {
	d, err := ctl.GetFunction(function, "")
	if err != nil {
		return billing.FunctionMeter{}, false
	}
	c := d.Config
	m := billing.FunctionMeter{Function: function, Arch: c.Architecture, MemoryMB: c.MemorySize, Mode: billing.ModeDefault, MaxConcurrency: 1}
	if c.LMI != nil {
		m.Mode, m.VCPUPerEE, m.MaxConcurrency = billing.ModeLMI, float64(c.VCPUMilli())/1000, c.MaxConcurrency()
		if cp := capacityProviderName(c.LMI.CapacityProviderARN); cp != "" {
			m.CapacityProvider = cp
		}
	}
	return m, true
}

func capacityProviderName(arn string) string {
	name, err := control.ParseCapacityProviderName(arn)
	if err != nil {
		return ""
	}
	return name
}

// GenerateKeys makes an access key pair in AWS's format.
func GenerateKeys() (id, secret string) {
	const upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	const any = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	b := make([]byte, 56)
	rand.Read(b) //nolint:errcheck
	idb := []byte("AKPD")
	for _, c := range b[:16] {
		idb = append(idb, upper[int(c)%len(upper)])
	}
	var sb []byte
	for _, c := range b[16:56] {
		sb = append(sb, any[int(c)%len(any)])
	}
	return string(idb), string(sb)
}
