package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/spf13/cobra"
)

// Exit codes of `paddock invoke`, so scripts can tell a function that ran
// and failed from an invoke that never ran.
const (
	exitFunctionError = 1 // the function returned an error (or crashed)
	exitInvokeFailed  = 2 // no invoke: API error, no Paddock, bad arguments
)

type invokeOptions struct {
	qualifier, payload, payloadFile string
	log, raw                        bool
}

func invokeCommand() *cobra.Command {
	var o invokeOptions
	cmd := &cobra.Command{
		Use:   "invoke NAME[:QUALIFIER]",
		Short: "Invoke a function and print its response",
		Long: `Invoke a function synchronously (RequestResponse) and print its response
payload on stdout, as indented JSON unless --raw. On stderr: the version that
ran, the function's error if any, and with --log the end of its log.

The payload comes from --payload, --payload-file, or stdin when either is "-";
without one, the function gets an empty payload.

Exit status: 0 when the function succeeded; 1 when it returned an error or
crashed (its error payload is still printed); 2 when no invoke happened (an
API error such as ResourceNotFoundException or TooManyRequestsException, no
Paddock at the endpoint, or bad arguments).`,
		Example: `  paddock invoke echo:1 --payload '{"msg":"hi"}'
  echo '{"n":3}' | paddock invoke echo --qualifier live --payload -
  paddock invoke echo:1 --payload-file event.json --log --raw > out.json`,
		SilenceErrors: true, // main prints the error once, prefixed with "paddock:"
		// Arguments are checked in RunE, so that a wrong count exits 2 like
		// any other invoke that did not happen.
		Args: cobra.ArbitraryArgs,
	}
	client := addClientFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&o.payload, "payload", "", `the event, as JSON ("-" reads stdin)`)
	f.StringVar(&o.payloadFile, "payload-file", "", `read the event from this file ("-" is stdin)`)
	f.StringVar(&o.qualifier, "qualifier", "", "version or alias to invoke (or NAME:QUALIFIER)")
	f.BoolVar(&o.log, "log", false, "print the end of the function's log (LogType Tail) on stderr")
	f.BoolVar(&o.raw, "raw", false, "print the payload as it came, not indented")
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		fmt.Fprintf(c.ErrOrStderr(), "paddock: %v\n", err)
		os.Exit(exitInvokeFailed)
		return nil
	})
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
		err := runInvoke(ctx, client, o, args, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		stop()
		var fe *functionError
		if err == nil || errors.As(err, &fe) {
			return err // main exits 1 on it
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "paddock: %v\n", err)
		os.Exit(exitInvokeFailed)
		return nil
	}
	return cmd
}

// functionError is an invoke that ran and failed in the function.
type functionError struct {
	kind, message string // X-Amz-Function-Error ("Unhandled"), errorMessage
}

func (e *functionError) Error() string {
	if e.message == "" {
		return "function error: " + e.kind
	}
	return "function error (" + e.kind + "): " + e.message
}

func runInvoke(ctx context.Context, client *clientOptions, o invokeOptions, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) != 1 {
		return fmt.Errorf("invoke takes one function name (NAME, NAME:QUALIFIER or an ARN), got %d arguments", len(args))
	}
	payload, err := readPayload(o.payload, o.payloadFile, stdin)
	if err != nil {
		return err
	}
	cfg, api, err := client.lambdaSDKConfig(ctx)
	if err != nil {
		return err
	}
	// The name goes as given: the API itself splits NAME:QUALIFIER and
	// ARNs, and refuses a qualifier that contradicts --qualifier.
	in := &lambda.InvokeInput{FunctionName: aws.String(args[0]), Payload: payload}
	if o.qualifier != "" {
		in.Qualifier = aws.String(o.qualifier)
	}
	if o.log {
		in.LogType = types.LogTypeTail
	}
	out, err := lambda.NewFromConfig(cfg).Invoke(ctx, in)
	if err != nil {
		return sdkError(api, "Invoke", err)
	}
	if o.log && out.LogResult != nil {
		if log, err := base64.StdEncoding.DecodeString(*out.LogResult); err == nil {
			stderr.Write(log) //nolint:errcheck // best effort, like the payload below
		}
	}
	if err := writePayload(stdout, out.Payload, o.raw); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "executed version %s\n", aws.ToString(out.ExecutedVersion))
	if out.FunctionError != nil {
		return &functionError{kind: *out.FunctionError, message: errorMessage(out.Payload)}
	}
	return nil
}

// readPayload returns the event from --payload or --payload-file, "-"
// meaning stdin for either; nil when neither is given.
func readPayload(payload, file string, stdin io.Reader) ([]byte, error) {
	if payload != "" && file != "" {
		return nil, errors.New("give the event with --payload or --payload-file, not both")
	}
	switch {
	case payload == "-" || file == "-":
		data, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("read the payload from stdin: %w", err)
		}
		return data, nil
	case file != "":
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("read the payload: %w", err)
		}
		return data, nil
	case payload != "":
		return []byte(payload), nil
	}
	return nil, nil
}

// writePayload prints p indented when it is JSON (and not raw), else as it
// came. The output ends with a newline unless raw, so a shell prompt does
// not follow it on the same line.
func writePayload(w io.Writer, p []byte, raw bool) error {
	if raw {
		_, err := w.Write(p)
		return err
	}
	var buf bytes.Buffer
	if json.Valid(p) {
		if err := json.Indent(&buf, p, "", "  "); err != nil {
			return err
		}
	} else {
		buf.Write(p)
	}
	if buf.Len() > 0 && buf.Bytes()[buf.Len()-1] != '\n' {
		buf.WriteByte('\n')
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// errorMessage is the errorMessage of a Lambda error payload, or "".
func errorMessage(p []byte) string {
	var e struct {
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal(p, &e) != nil {
		return ""
	}
	return e.ErrorMessage
}
