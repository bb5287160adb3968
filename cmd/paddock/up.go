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

	"github.com/paddockhq/paddock/internal/logs"
	"github.com/paddockhq/paddock/internal/platform"
)

func upCommand() *cobra.Command {
	var opts platform.Options
	var verbose, writeProfile bool
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
versions restarted. Ctrl-C stops everything, function processes included.`,
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
			if opts.AccessKeyID == "" {
				opts.AccessKeyID = os.Getenv("PADDOCK_ACCESS_KEY_ID")
			}
			if opts.SecretAccessKey == "" {
				opts.SecretAccessKey = os.Getenv("PADDOCK_SECRET_ACCESS_KEY")
			}
			if opts.ConsoleToken == "" {
				opts.ConsoleToken = rand.Text()
			}
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
			fmt.Fprintf(out, "  export AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_DEFAULT_REGION=%s\n",
				p.AccessKeyID, p.SecretAccessKey, p.Region)
			fmt.Fprintf(out, "  aws --endpoint-url %s lambda list-functions\n\n", p.Endpoint)
			fmt.Fprintf(out, "Console: %s/console (log in with the key pair or the token %s)\n\nCtrl-C stops Paddock and every function process.\n", p.Endpoint, opts.ConsoleToken)
			if writeProfile {
				writePaddockProfile(out, cmd.ErrOrStderr(), p)
			}
			<-ctx.Done()
			fmt.Fprintln(out, "\nStopping: draining execution environments...")
			p.Close()
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
	f.StringVar(&opts.Sandbox, "sandbox", "best-effort", "confinement of function processes: best-effort (what the host allows; what is missing is logged once) or strict (refuse to start unless cgroups, a user per function, PID and mount namespaces and no_new_privs are all available)")
	f.StringVar(&opts.CredentialsFile, "credentials-file", "", "more users' access keys, in the AWS shared-credentials format (one [section] per user)")
	f.BoolVar(&opts.NoAuth, "no-auth", false, "accept unsigned requests (local experiments only: anyone who reaches the API can run code)")
	f.BoolVarP(&verbose, "verbose", "v", false, "log debug detail, including function output")
	return cmd
}
