package main

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/paddockhq/paddock/internal/agent"
	"github.com/paddockhq/paddock/internal/agentd"
	"github.com/paddockhq/paddock/internal/coderelay"
	"github.com/paddockhq/paddock/internal/fleet"
	"github.com/paddockhq/paddock/internal/joinauth"
	"github.com/paddockhq/paddock/internal/livestate"
	"github.com/paddockhq/paddock/internal/runtimes"
	"github.com/paddockhq/paddock/internal/sandbox"
)

func agentCommand() *cobra.Command {
	var join, token, id, instanceType, listen, advertise, dataDir, provider string
	var rtFlags runtimeFlags
	var verbose, hopTLS bool
	cmd := &cobra.Command{
		Use:   "agent --join nats://SERVER:4222 --token TOKEN --instance-type TYPE",
		Short: "Run this machine as an instance of a Paddock server's fleet",
		Long: `Run the instance agent: join a Paddock server's engine (--join, with the join
token the server printed), offer this machine as an instance of --instance-type
to its capacity providers, and run the execution environments the server
assigns here, in their sandboxes. The server's routers send invokes to the
agent's invoke port (--listen), which they reach at --advertise; every
request there must carry the agent's own token, which it publishes to the
servers only. The port speaks TLS (--hop-tls, on by default) with a
certificate the agent makes at each start and names in its host record,
which only it may write: routers pin it, so a machine that takes over the
agent's address can neither read invokes nor learn the token.

The agent is a principal of its own: on its first start it makes a key
(agent.nk in --data-dir) and the first agent to join as a host id (--id)
binds the id to its key; the engine then lets it write only its own host's
records and logs. Keep the data dir: a new key cannot take over the id.
A revoked join token (paddock token revoke) ends the agent.

The agent beats every 2s. If its beats go unconfirmed for 5s (the network is
down) it stops taking invokes, since the servers are about to start its
execution environments elsewhere; when the link returns it stops what is no
longer assigned to it. Ctrl-C stops its execution environments and leaves.`,
		Example: `  paddock agent --join nats://10.0.0.1:4222 --token "$PADDOCK_JOIN_TOKEN" --instance-type m7i.xlarge --listen 0.0.0.0:9402 --advertise 10.0.0.7:9402`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			level := slog.LevelInfo
			if verbose {
				level = slog.LevelDebug
			}
			slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
			syscall.Umask(0o077)
			if token == "" {
				token = os.Getenv("PADDOCK_JOIN_TOKEN")
			}
			if join == "" || token == "" {
				return errors.New("give the engine to join (--join) and the join token (--token or PADDOCK_JOIN_TOKEN)")
			}
			t, ok := fleet.LookupInstanceType(instanceType)
			if !ok {
				return fmt.Errorf("--instance-type %q is not an instance type Paddock knows (e.g. m7i.xlarge, c7g.large)", instanceType)
			}
			if id == "" {
				b := make([]byte, 8)
				rand.Read(b) //nolint:errcheck
				id = "h-" + hex.EncodeToString(b)
			}
			if !livestate.ValidID(id) {
				return fmt.Errorf("--id %q: use letters, digits, '-' and '_'", id)
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("invoke port: %w", err)
			}
			advertise, err = hopURL(advertise, ln.Addr(), hopTLS)
			if err != nil {
				ln.Close()
				return err
			}
			dataDir, err = filepath.Abs(dataDir)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(dataDir, 0o700); err != nil {
				return fmt.Errorf("data dir: %w", err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			key, err := joinauth.LoadKey(filepath.Join(dataDir, "agent.nk"))
			if err != nil {
				ln.Close()
				return err
			}
			auth, err := joinauth.ConnectOptions(id, token, key)
			if err != nil {
				ln.Close()
				return err
			}
			// Refused credentials end the agent (nats.go gives up after the
			// same refusal twice) rather than retry for ever.
			refused := make(chan error, 1)
			nc, err := nats.Connect(join, append(auth, nats.Name("paddock-agent "+id),
				nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond),
				// The beats are the keepalive (agentd): pings need not be frequent.
				nats.PingInterval(30*time.Second), nats.MaxPingsOutstanding(2), nats.Timeout(5*time.Second),
				nats.ClosedHandler(func(nc *nats.Conn) {
					if err := nc.LastError(); err != nil {
						refused <- err
						stop()
					}
				}))...)
			if err != nil {
				ln.Close()
				if errors.Is(err, nats.ErrAuthorization) {
					return fmt.Errorf("join %s: the servers refused this agent: the join token is wrong or revoked, or another agent joined as --id %s (their log says which)", join, id)
				}
				return fmt.Errorf("join %s: %w", join, err)
			}
			defer nc.Close()
			fetch := coderelay.Fetcher(nc, id)
			sandbox.Require(false) //nolint:errcheck // never fails when not strict: logs what is missing, once
			cache := agent.NewCodeCache(filepath.Join(dataDir, "code"), fetch)
			paths, err := rtFlags.mapping()
			if err != nil {
				return err
			}
			hostRuntimes := runtimes.FindHost(ctx, paths, cmp.Or(rtFlags.dir, runtimes.DefaultDir()))
			hostRuntimes.Log(slog.Default())
			fmt.Fprintf(cmd.OutOrStdout(), "Agent %s (%s) joined %s; invoke port %s\n", id, t.Name, join, advertise)
			err = agentd.Run(ctx, nc, agentd.Options{
				Host:  livestate.Host{ID: id, Provider: provider, Type: t.Name, Arch: t.Arch, VCPU: t.VCPU, MemoryMiB: t.MemoryMiB, HopURL: advertise},
				Cache: cache, Hop: ln, HopTLS: hopTLS, Runtimes: hostRuntimes,
			})
			if serr := sandbox.Shutdown(); serr != nil {
				slog.Warn("sandbox: releasing the host's EE network", "err", serr)
			}
			select {
			case rerr := <-refused:
				return fmt.Errorf("the engine closed this agent's connection: %w (was its join token revoked?)", rerr)
			default:
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&join, "join", "", "the server's engine, nats://HOST:4222 (several, comma-separated, for a cluster)")
	f.StringVar(&token, "token", "", "the join token the server printed (env PADDOCK_JOIN_TOKEN)")
	f.StringVar(&id, "id", "", "this host's id (letters, digits, '-', '_'; generated when empty)")
	f.StringVar(&instanceType, "instance-type", "m7i.xlarge", "the instance type this machine stands for: its vCPUs and memory are what capacity providers may place on it")
	f.StringVar(&listen, "listen", "0.0.0.0:9402", "address of the invoke port the servers call")
	f.StringVar(&advertise, "advertise", "", "HOST:PORT the servers reach the invoke port at, or its https:// (http:// with --hop-tls=false) URL (default: from --listen, when it names an address)")
	f.BoolVar(&hopTLS, "hop-tls", true, "serve the invoke port over TLS with a certificate the servers pin (turn off only on a network you trust: the token then travels in the clear)")
	f.StringVar(&dataDir, "data-dir", ".paddock-agent", "where code is cached and sandboxes are built")
	f.BoolVarP(&verbose, "verbose", "v", false, "log debug detail")
	rtFlags.register(f)
	f.StringVar(&provider, "provider", "static", "the provider the host comes from, as status shows it (the local and ec2 providers set it)")
	f.MarkHidden("provider") //nolint:errcheck // it exists
	return cmd
}

// hopURL is the invoke port's URL: --advertise's (HOST:PORT, or a URL
// whose scheme agrees with --hop-tls), else the listener's address when it
// names a host.
func hopURL(advertise string, listening net.Addr, withTLS bool) (string, error) {
	scheme := "http"
	if withTLS {
		scheme = "https"
	}
	if advertise == "" {
		tcp, ok := listening.(*net.TCPAddr)
		if !ok || tcp.IP.IsUnspecified() {
			return "", errors.New("--listen is on every address: say where servers reach it with --advertise HOST:PORT")
		}
		return scheme + "://" + tcp.String(), nil
	}
	if !strings.Contains(advertise, "://") {
		advertise = scheme + "://" + advertise
	}
	u, err := url.Parse(advertise)
	switch {
	case err != nil || u.Host == "" || u.Port() == "" || (u.Path != "" && u.Path != "/"):
		return "", fmt.Errorf("--advertise %q: want HOST:PORT the servers can reach", advertise)
	case u.Scheme != scheme:
		return "", fmt.Errorf("--advertise %q is %s://, but --hop-tls=%v serves %s://", advertise, u.Scheme, withTLS, scheme)
	}
	return scheme + "://" + u.Host, nil
}
