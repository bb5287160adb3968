package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/paddockhq/paddock/internal/logs"
)

const logsPath = "/paddock/v1/logs/"

func logsCommand() *cobra.Command {
	var since, requestID string
	var follow, asJSON bool
	cmd := &cobra.Command{
		Use:   "logs FUNCTION",
		Short: "Show a function's logs: what it printed, with Lambda's START, END and REPORT lines",
		Long: `Show the logs Paddock kept for a function, oldest first: every line its
execution environments printed on stdout or stderr, and the platform's lines
around each invoke, as Lambda writes them to CloudWatch Logs:

  Text log format (default-mode functions):
    START RequestId: <id> Version: <version>
    ... what the function printed ...
    END RequestId: <id>
    REPORT RequestId: <id>  Duration: 2.35 ms  Billed Duration: 3 ms  Memory Size: 128 MB
           Max Memory Used: 23 MB  Init Duration: 48.91 ms (on cold starts)

  JSON log format (Lambda Managed Instances, and functions set to JSON):
    platform.start and platform.report events ({"time","type","record"}); a
    line the function printed as a JSON object is kept as it is, any other
    line is wrapped as {"timestamp","level","message","requestId"}.

Each line is printed as: time (UTC)  request id (or -)  message.

The request id of a platform line is exact, and so is that of a JSON line
carrying its own "requestId". Other lines get the id of the invoke that was
running on their execution environment when they were printed, when only one
was (always so in default mode, one invoke at a time per environment); lines
printed while several invokes shared an environment (LMI), during init, or more
than 2 seconds before their invoke ended carry none. On LMI, log JSON with your
requestId (aws-lambda-go: lambdacontext.FromContext(ctx).AwsRequestID) to
attribute every line.

Paddock keeps logs for 7 days and up to 1 GiB in all, oldest dropped first
(paddock up --log-retention, --log-max-bytes). Lines are stored in batches,
about every 100 ms; a clean stop of Paddock keeps every line, a crash can lose
the last couple of seconds.

The request is signed (SigV4) like any AWS CLI call, with AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY (paddock up prints the pair) or the --profile given.
--json prints the records as the API answers them (GET /paddock/v1/logs/FUNCTION),
one JSON object a line: time, requestId, ee (the execution environment),
stream (stdout, stderr or platform), version and message.`,
		Example: `  # The last 10 minutes of the function echo
  export AWS_ACCESS_KEY_ID=AKIDPADDOCKEXAMPLE AWS_SECRET_ACCESS_KEY=paddock-example-secret
  paddock logs echo

  # The last hour, then new lines as they come; Ctrl-C to stop
  paddock logs echo --since 1h --follow

  # One invoke: the id is in the X-Amzn-Requestid header, or in its START line
  paddock logs echo --since 24h --request-id 8f5e1c2a-0b0e-4c3e-9d7e-2b1f0a6c5d4e

  # For scripts: the durations of the last hour's invokes
  paddock logs echo --since 1h --json | jq -r 'select(.message | startswith("REPORT")) | .message'`,
		Args:          cobra.ExactArgs(1),
		SilenceErrors: true, // main prints the error once, prefixed with "paddock:"
	}
	client := addClientFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&since, "since", "10m", "start of the logs: a duration back from now (10m, 1h, 168h) or an RFC 3339 time")
	f.BoolVarP(&follow, "follow", "f", false, "keep printing new lines as they are stored, until Ctrl-C")
	f.StringVar(&requestID, "request-id", "", "only the lines of this invoke")
	f.BoolVar(&asJSON, "json", false, "print the API's records, one JSON object a line")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		function := args[0]
		if !logs.ValidFunctionName(function) {
			return fmt.Errorf("%q is not a function name (1 to 64 letters, digits, - and _); logs are per function, not per version or alias", function)
		}
		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		c, err := client.client(ctx)
		if err != nil {
			return err
		}
		params := url.Values{"since": {since}}
		if requestID != "" {
			params.Set("requestId", requestID)
		}
		if follow {
			params.Set("follow", "true")
		}
		path := logsPath + function + "?" + params.Encode()
		out := bufio.NewWriter(cmd.OutOrStdout())
		defer out.Flush()
		err = c.stream(ctx, path, func(line []byte) error {
			if asJSON {
				out.Write(line) //nolint:errcheck // Flush reports a failed write
				out.WriteByte('\n')
			} else {
				var r logs.Record
				if err := json.Unmarshal(line, &r); err != nil {
					return fmt.Errorf("%s answered a log line this paddock cannot read: %w", c.endpoint, err)
				}
				writeLogRecord(out, r)
			}
			if follow {
				// Someone is watching: show each line as it comes.
				return out.Flush()
			}
			return nil
		})
		if follow && ctx.Err() != nil {
			return nil // Ctrl-C is how a follow ends
		}
		if err == nil && follow {
			return fmt.Errorf("the Paddock at %s ended the stream: it stopped or restarted", c.endpoint)
		}
		if err != nil {
			return err
		}
		return out.Flush()
	}
	return cmd
}

// writeLogRecord prints one record as `time  request id  message`.
func writeLogRecord(w io.Writer, r logs.Record) {
	id := r.RequestID
	if id == "" {
		id = "-"
	}
	fmt.Fprintf(w, "%s  %s  %s\n", r.Time.UTC().Format("2006-01-02T15:04:05.000Z"), id, r.Message)
}

// stream sends a signed GET of path and calls line with each line of a
// 2xx answer as it arrives. Unlike get, it has no overall timeout (a
// follow lasts as long as the user wants), only one on the answer's
// headers, which Paddock sends at once.
func (c *apiClient) stream(ctx context.Context, path string, line func([]byte) error) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.endpoint+path, nil)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(nil)
	if err := c.signer.SignHTTP(ctx, c.creds, req, hex.EncodeToString(sum[:]), signingService, c.region, time.Now()); err != nil {
		return fmt.Errorf("sign request: %w", err)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.ResponseHeaderTimeout = 30 * time.Second
	resp, err := (&http.Client{Transport: transport}).Do(req)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return &noPaddockError{endpoint: c.endpoint}
		}
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return c.apiError(resp, path, data)
	}
	sc := bufio.NewScanner(resp.Body)
	// A record holds one line of at most 64 KiB, which JSON escaping can
	// make a few times longer.
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if err := line(sc.Bytes()); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read the logs from %s: %w", c.endpoint, err)
	}
	return nil
}
