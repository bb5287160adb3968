package main

import (
	"crypto/rand"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/paddockhq/paddock/internal/frontdoor"
	"github.com/paddockhq/paddock/internal/logs"
	"github.com/paddockhq/paddock/internal/platform"
	"github.com/paddockhq/paddock/internal/sandbox"
)

func upCommand() *cobra.Command { return platformCommand(false) }

// serverCommand is up with the instances on other machines: agents that
// join through the engine's client port.
func serverCommand() *cobra.Command { return platformCommand(true) }

const serverLong = `Run a Paddock server: the embedded NATS JetStream engine (state in --data-dir),
the Lambda API on --listen, the control plane, the router and the scaler, with
the instances of capacity providers on other machines. Each instance is a
'paddock agent' that joins through the engine's client port (--engine-listen)
with the join token (--join-token or PADDOCK_JOIN_TOKEN; generated and printed
when empty). Capacity providers draw on the joined hosts by instance type and
architecture; an instance whose agent stops beating for 3s is lost, and its
execution environments are started on other hosts. Default-mode functions
(without a capacity provider) run on this machine, as with 'paddock up'.

With --nats-url, the engine is an external NATS JetStream cluster instead of
a node embedded in each server: the servers keep their state there and the
agents join it, admitted by the servers' auth callout, which the cluster's
configuration must delegate to (printed at start, with the issuer key).

Every flag of 'paddock up' applies.`

const serverExample = `  paddock server --listen 0.0.0.0:9400 --engine-listen 0.0.0.0:4222 --data-dir /var/lib/paddock
  # then, on each instance:
  paddock agent --join nats://SERVER:4222 --token TOKEN --instance-type m7i.xlarge --advertise http://THIS-HOST:9402
  # an external NATS cluster (paste the configuration it prints into nats-server's):
  PADDOCK_NATS_PASSWORD=... paddock server --nats-url nats://10.0.0.1:4222,nats://10.0.0.2:4222 --nats-user paddock \
    --listen 0.0.0.0:9400 --advertise-url http://SELF:9400 --data-dir /var/lib/paddock`

func platformCommand(server bool) *cobra.Command {
	var opts platform.Options
	var rtFlags runtimeFlags
	var verbose, writeProfile bool
	var maxConns int
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run the whole platform in this process",
		Long: `Run every role of Paddock in this process: the embedded NATS JetStream engine
(state in --data-dir), the Lambda API on --listen, the scaler and the local
instance provider, whose execution environments are processes on this machine.

Requests must be signed (AWS Signature V4) with the access key pair given by
--access-key-id/--secret-access-key (or PADDOCK_ACCESS_KEY_ID and
PADDOCK_SECRET_ACCESS_KEY); without one, a pair is generated and printed.

Run it again on the same --data-dir and every capacity provider, function,
version and alias comes back, with the execution environments of active
versions restarted. Ctrl-C (or SIGTERM) stops everything, function processes
included: invokes in progress get --shutdown-timeout to finish (by default
the longest Timeout among the functions, at least 5s and at most 60s); the
ones still running then are answered ServiceException (HTTP 500), never an
empty success, and the log says how many were cut.`,
		Example: `  paddock up
  paddock up --listen 0.0.0.0:9400 --data-dir /var/lib/paddock
  PADDOCK_ACCESS_KEY_ID=AKIDEXAMPLE PADDOCK_SECRET_ACCESS_KEY=secret paddock up`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			level := slog.LevelInfo
			if verbose {
				level = slog.LevelDebug
			}
			slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
			// Everything up creates (the engine's files, code, logs,
			// sockets) is Paddock's user's alone, whatever the parent
			// directory or the shell's umask allow: the data dir holds
			// every function's code and the whole state. Files that must
			// be open to EEs get their modes set explicitly.
			syscall.Umask(0o077)
			if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
				return fmt.Errorf("data dir: %w", err)
			}
			if err := os.Chmod(opts.DataDir, 0o700); err != nil {
				return fmt.Errorf("data dir: %w", err)
			}
			if opts.AccessKeyID == "" {
				opts.AccessKeyID = os.Getenv("PADDOCK_ACCESS_KEY_ID")
			}
			if opts.SecretAccessKey == "" {
				opts.SecretAccessKey = os.Getenv("PADDOCK_SECRET_ACCESS_KEY")
			}
			// A secret is printed only when up made it: one the user gave
			// is theirs already, and the banner ends up in terminals'
			// scrollback, logs and screenshots.
			generatedKeys := opts.AccessKeyID == "" && opts.SecretAccessKey == ""
			generatedToken := opts.ConsoleToken == ""
			if generatedToken {
				opts.ConsoleToken = rand.Text()
			}
			if opts.ShutdownTimeout < 0 {
				return fmt.Errorf("--shutdown-timeout must not be negative")
			}
			if maxConns == 0 {
				opts.MaxConnections = -1 // no cap
			} else {
				opts.MaxConnections = maxConns
			}
			generatedJoin := false
			if server {
				switch opts.Provider {
				case "":
					opts.Provider = "static"
				case "local": // on a server, local instances are agent processes; in `up`, members of the process
					opts.Provider = "processes"
				}
				if opts.JoinToken == "" {
					opts.JoinToken = os.Getenv("PADDOCK_JOIN_TOKEN")
				}
				if opts.JoinToken == "" {
					opts.JoinToken, generatedJoin = rand.Text(), true
				}
				if opts.ClusterSecret == "" {
					opts.ClusterSecret = os.Getenv("PADDOCK_CLUSTER_SECRET")
				}
				if opts.NATSURL != "" {
					if generatedJoin {
						return fmt.Errorf("with --nats-url, give the join token (--join-token or PADDOCK_JOIN_TOKEN, the same on every server): the auth callout's issuer, in the cluster's configuration, derives from it (and from --cluster-secret), and must not change at each start")
					}
					// The external cluster is the engine: none embedded.
					if !cmd.Flags().Changed("engine-listen") {
						opts.EngineListen = ""
					}
					if opts.NATSPassword == "" {
						opts.NATSPassword = os.Getenv("PADDOCK_NATS_PASSWORD")
					}
					// Printed before the connection: without it in the
					// cluster's configuration, Paddock cannot connect.
					conf, err := platform.ExternalNATSConfig(opts)
					if err != nil {
						return err
					}
					fmt.Fprintf(cmd.OutOrStdout(), "The external NATS cluster %s needs, for Paddock and its agents:\n\n%s\n", opts.NATSURL, conf)
				}
			}
			var err error
			if opts.RuntimePaths, err = rtFlags.mapping(); err != nil {
				return err
			}
			opts.RuntimesDir = rtFlags.dir
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			started := time.Now()
			p, err := platform.Start(ctx, opts)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Paddock is up in %v: the Lambda API listens on %s (data in %s)\n\n",
				time.Since(started).Round(time.Millisecond), p.Endpoint, opts.DataDir)
			fmt.Fprintf(out, "Use it with the AWS CLI or SDKs:\n")
			if generatedKeys {
				fmt.Fprintf(out, "  export AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_DEFAULT_REGION=%s\n",
					p.AccessKeyID, p.SecretAccessKey, p.Region)
			} else {
				fmt.Fprintf(out, "  export AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=<the secret you gave> AWS_DEFAULT_REGION=%s\n",
					p.AccessKeyID, p.Region)
				fmt.Fprintf(out, "  (the secret access key is the one given by --secret-access-key or PADDOCK_SECRET_ACCESS_KEY; it is not printed)\n")
			}
			fmt.Fprintf(out, "  aws --endpoint-url %s lambda list-functions\n\n", p.Endpoint)
			if generatedToken {
				fmt.Fprintf(out, "Console: %s/console (log in with the key pair or the token %s)\n", p.Endpoint, opts.ConsoleToken)
			} else {
				fmt.Fprintf(out, "Console: %s/console (log in with the key pair or the token you gave with --console-token)\n", p.Endpoint)
			}
			if server {
				token := "<the token you gave>"
				if generatedJoin {
					token = opts.JoinToken
				}
				fmt.Fprintf(out, "Instances join the engine at %s, with:\n  paddock agent --join %s --token %s --instance-type m7i.xlarge --advertise http://THIS-HOST:9402\n\n",
					p.EngineURL, p.EngineURL, token)
			}
			fmt.Fprintf(out, "\nCtrl-C stops Paddock and every function process.\n")
			if writeProfile {
				writePaddockProfile(out, cmd.ErrOrStderr(), p)
			}
			<-ctx.Done()
			fmt.Fprintf(out, "\nStopping: draining invokes in progress (up to %v) and execution environments...\n", p.ShutdownTimeout())
			p.Close()
			// Last: the host's firewall tables and spare network
			// namespaces of the EEs go with Paddock.
			if err := sandbox.Shutdown(); err != nil {
				slog.Warn("sandbox: releasing the host's EE network", "err", err)
			}
			fmt.Fprintln(out, "Stopped.")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Listen, "listen", "127.0.0.1:9400", "address of the Lambda API")
	f.StringVar(&opts.MetricsListen, "metrics-listen", "", "serve Prometheus /metrics on this address instead of on --listen (unauthenticated either way: it holds no secrets)")
	f.StringVar(&opts.DataDir, "data-dir", ".paddock", "where the engine keeps state and code")
	f.StringVar(&opts.AccessKeyID, "access-key-id", "", "access key id that signs API requests (env PADDOCK_ACCESS_KEY_ID)")
	f.StringVar(&opts.SecretAccessKey, "secret-access-key", "", "secret access key (env PADDOCK_SECRET_ACCESS_KEY)")
	f.StringVar(&opts.Region, "region", "us-east-1", "region in ARNs and in the functions' AWS_REGION")
	f.DurationVar(&opts.LaunchDelay, "instance-launch-delay", 2*time.Second, "time the local provider takes to launch an instance (EC2 takes about 40s)")
	f.DurationVar(&opts.IdleTimeout, "idle-timeout", 10*time.Minute, "stop a default-mode execution environment idle this long")
	f.IntVar(&opts.AccountConcurrency, "account-concurrency", 1000, "the account's concurrency limit (default-mode invokes at once)")
	f.Float64Var(&opts.SavingsPlan, "savings-plan", 0, "savings-plan discount on LMI instance cost in bills, a fraction 0..1 (0.3 = 30%); the 15% management fee stays on the on-demand price")
	f.StringVar(&opts.ConsoleToken, "console-token", "", "token that logs in to the web console at /console besides the key pair (generated and printed when empty)")
	f.DurationVar(&opts.LogRetention, "log-retention", logs.DefaultRetention, "how long function logs are kept (paddock logs)")
	f.Int64Var(&opts.LogMaxBytes, "log-max-bytes", logs.DefaultMaxBytes, "most bytes of function logs kept; the oldest go first")
	f.BoolVar(&writeProfile, "write-aws-profile", false, "add a 'paddock' profile (endpoint_url, region, keys) to ~/.aws/config and ~/.aws/credentials, for aws --profile paddock")
	f.StringVar(&opts.Sandbox, "sandbox", "best-effort", "confinement of function processes: best-effort (what the host allows; what is missing is logged once) or strict (refuse to start unless every mechanism is available: cgroups, a user per function, PID, mount and network namespaces, a minimal root, no_new_privs and a seccomp filter; see README, Isolation)")
	f.StringVar(&opts.CredentialsFile, "credentials-file", "", "more users' access keys, in the AWS shared-credentials format (one [section] per user)")
	f.BoolVar(&opts.NoAuth, "no-auth", false, "accept unsigned requests (local experiments only: anyone who reaches the API can run code)")
	f.IntVar(&maxConns, "max-connections", frontdoor.DefaultMaxConns(), "most open connections on the API port (default: half the open-files limit less a reserve; 0: no cap); at the cap idle connections are closed first, busy ones never")
	f.DurationVar(&opts.ConnIdleTimeout, "conn-idle-timeout", platform.DefaultConnIdleTimeout, "close an API connection kept alive with no request for this long")
	f.DurationVar(&opts.HeaderTimeout, "header-timeout", platform.DefaultHeaderTimeout, "close an API connection whose request head takes longer than this")
	f.DurationVar(&opts.BodyReadWindow, "body-read-window", platform.DefaultBodyReadWindow, "a request body must bring --body-read-min bytes in every window this long, or its connection is closed")
	f.Int64Var(&opts.BodyReadMin, "body-read-min", platform.DefaultBodyReadMin, "bytes a request body must bring per --body-read-window")
	f.DurationVar(&opts.ShutdownTimeout, "shutdown-timeout", 0, "at a stop, how long invokes in progress may run before they are cut short with a ServiceException (0: the longest function Timeout, at least 5s, at most 60s)")
	f.StringVar(&opts.AWSEndpoint, "aws-endpoint-url", "", "URL of the AWS APIs that asynchronous invocation records go to (SQS, SNS, EventBridge destinations), e.g. a LocalStack or moto_server (empty: AWS's, or AWS_ENDPOINT_URL; credentials from the SDK's default chain)")
	f.StringVar(&opts.EventNATSURL, "event-nats-url", "", "NATS server (client URLs, comma-separated) whose JetStream streams event source mappings of arn:aws:nats:REGION:ACCOUNT:stream/NAME read, each through a durable consumer paddock-UUID; your own NATS, not Paddock's engine (empty: such mappings are not run)")
	f.StringVar(&opts.EventNATSCreds, "event-nats-creds", "", "credentials file (JWT and nkey seed) for --event-nats-url")
	f.StringVar(&opts.FunctionURLDomain, "function-url-domain", "", "answer function URLs as host names under this domain, AWS's shape: localhost:9400 gives http://ID.lambda-url.REGION.localhost:9400/ (browsers and curl resolve *.localhost; elsewhere a wildcard DNS name must reach this port); empty: URLs are ENDPOINT/lambda-url/ID/ (both forms are always served)")
	f.BoolVarP(&verbose, "verbose", "v", false, "log debug detail, including function output")
	rtFlags.register(f)
	if server {
		cmd.Use, cmd.Short, cmd.Long, cmd.Example = "server", "Run a Paddock server whose instances are agents on other machines", serverLong, serverExample
		f.StringVar(&opts.EngineListen, "engine-listen", "127.0.0.1:4222", "client address of the engine, where agents join (0.0.0.0:4222 to take agents from other machines)")
		f.StringVar(&opts.JoinToken, "join-token", "", "the token agents join with (env PADDOCK_JOIN_TOKEN; generated and printed when empty); several servers must share it")
		f.StringVar(&opts.ClusterListen, "cluster-listen", "", "route address of this server's engine node, for a cluster of servers (e.g. 0.0.0.0:6222); empty: a single server")
		f.StringSliceVar(&opts.ClusterPeers, "cluster-peers", nil, "route URLs of the other servers' engine nodes (nats://10.0.0.2:6222,...); with 3 or more nodes every record is kept on 3 of them")
		f.StringVar(&opts.NodeName, "node-name", "", "this engine node's name, unique in the cluster and the same across restarts (default: generated once and kept in --data-dir)")
		f.StringVar(&opts.ClusterSecret, "cluster-secret", "", "password the engine nodes' routes share (env PADDOCK_CLUSTER_SECRET; default: derived from the join token)")
		f.StringVar(&opts.NATSURL, "nats-url", "", "use an external NATS JetStream cluster instead of embedding an engine node: its client URLs, comma-separated (nats://10.0.0.1:4222,...); agents join it, and it must delegate their admission to Paddock's auth callout: the configuration it needs is printed at start (see README, An external NATS cluster). Excludes --engine-listen, --cluster-listen and --cluster-peers")
		f.StringVar(&opts.NATSUser, "nats-user", "", "Paddock's user on the external NATS cluster (--nats-url); it must be among the auth callout's auth_users")
		f.StringVar(&opts.NATSPassword, "nats-password", "", "the password of --nats-user (env PADDOCK_NATS_PASSWORD, better: a flag shows in ps)")
		f.StringVar(&opts.NATSCreds, "nats-creds", "", "a NATS .creds file (user JWT and seed) Paddock connects to the external cluster with, for a cluster in operator (JWT) mode; the agents' auth callout is only set up for a cluster configured by file (see README)")
		f.IntVar(&opts.NATSReplicas, "nats-replicas", 3, "replicas of Paddock's buckets and streams on the external NATS cluster (1 to 5; 1 for a single-node cluster, which loses data with its disk)")
		f.StringVar(&opts.AdvertiseURL, "advertise-url", "", "URL the other servers reach this server's API at, to forward configuration writes when it leads (default: the --listen address)")
		f.StringVar(&opts.Provider, "provider", "static", "where instances come from: static (agents started by hand join), local (each instance is a `paddock agent` process on this machine, in a network namespace of its own with an address in 198.18.0.0/15; needs root) or ec2 (launched with RunInstances in the capacity provider's subnets and security groups; their user data starts the agent; AWS credentials from the SDK's default chain)")
		f.StringVar(&opts.EC2Endpoint, "ec2-endpoint", "", "URL of the EC2 API for --provider ec2 (empty: AWS's, in --region)")
		f.StringSliceVar(&opts.EC2ImageIDs, "ec2-image-id", nil, "AMIs the ec2 provider's instances boot, one per architecture (say x86_64 and arm64; EC2 tells which is which): Amazon Linux 2023 with paddock at --agent-path. Repeat the flag or separate the ids with commas")
		f.StringVar(&opts.EC2JoinURL, "ec2-join-url", "", "engine URLs the ec2 instances' agents join, as the instances reach them, e.g. nats://10.0.0.5:4222 (default: the engine's URL from --engine-listen)")
		f.StringVar(&opts.AgentPath, "agent-path", "", "path of paddock on the instances: for ec2, on their image (default /usr/local/bin/paddock); for local, on this machine (default: this binary)")
		f.DurationVar(&opts.EC2LaunchTimeout, "ec2-launch-timeout", 10*time.Minute, "how long an ec2 instance has to boot and join before it is terminated")
	}
	return cmd
}
