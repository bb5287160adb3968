package main

import (
	"bytes"
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
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// The client verbs (status, and logs, cost, deploy, invoke to come) talk to
// a running Paddock over its signed HTTP API, the same way the AWS CLI does,
// so they need nothing the AWS CLI user does not already have: an endpoint
// and an access key pair.

const (
	defaultEndpoint = "http://127.0.0.1:9400" // where `paddock up` listens by default
	defaultRegion   = "us-east-1"
	// signingService is the SigV4 service name Paddock verifies: it is
	// "lambda" for every route, Paddock-specific ones included, so one key
	// pair and one signer serve both APIs.
	signingService = "lambda"
)

// clientOptions are the flags every client verb shares.
type clientOptions struct {
	endpoint     string
	endpointFlag *pflag.Flag // to tell an explicit --endpoint from the default
	profile      string
}

// addClientFlags adds --endpoint and --profile to cmd as persistent flags
// (so a verb's subcommands inherit them) and returns where they land.
func addClientFlags(cmd *cobra.Command) *clientOptions {
	o := &clientOptions{}
	f := cmd.PersistentFlags()
	f.StringVar(&o.endpoint, "endpoint", defaultEndpoint, "URL of the Paddock API (env PADDOCK_ENDPOINT)")
	f.StringVar(&o.profile, "profile", "", "use the credentials and region of this profile in ~/.aws/config and ~/.aws/credentials")
	o.endpointFlag = f.Lookup("endpoint")
	return o
}

// apiClient sends SigV4-signed requests to one Paddock.
type apiClient struct {
	endpoint string // scheme://host[:port], no trailing slash
	http     *http.Client
	signer   *v4.Signer
	creds    aws.Credentials
	region   string
	// credSource says where creds came from, so an authentication error
	// can point at the right thing to fix.
	credSource string
}

// client resolves the endpoint, credentials and region the way the AWS CLI
// does (an explicit --profile beats the environment's keys, which beat the
// shared config files) and returns a client for them.
func (o *clientOptions) client(ctx context.Context) (*apiClient, error) {
	endpoint, err := o.resolveEndpoint()
	if err != nil {
		return nil, err
	}
	c := &apiClient{
		endpoint: endpoint,
		// The context bounds each call; the timeout only stops a Paddock
		// that accepted the connection and then hangs from hanging us.
		http:   &http.Client{Timeout: 30 * time.Second},
		signer: v4.NewSigner(),
	}
	envRegion := firstNonEmpty(os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION"))
	id, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	if o.profile == "" && id != "" && secret != "" {
		c.creds = aws.Credentials{AccessKeyID: id, SecretAccessKey: secret, SessionToken: os.Getenv("AWS_SESSION_TOKEN")}
		c.credSource = "environment"
		c.region = firstNonEmpty(envRegion, defaultRegion)
		return c, nil
	}
	// Paddock runs on laptops and servers that are not EC2 instances: asking
	// the instance metadata service would only add seconds of timeouts
	// before the "no credentials" error.
	opts := []func(*config.LoadOptions) error{config.WithEC2IMDSClientEnableState(imds.ClientDisabled)}
	c.credSource = "shared config"
	if o.profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(o.profile))
		c.credSource = "profile " + o.profile
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	if cfg.Credentials == nil {
		return nil, errNoCredentials
	}
	c.creds, err = cfg.Credentials.Retrieve(ctx)
	if err != nil {
		if o.profile != "" {
			return nil, fmt.Errorf("credentials of profile %s: %w", o.profile, err)
		}
		return nil, errNoCredentials
	}
	c.region = firstNonEmpty(envRegion, cfg.Region, defaultRegion)
	return c, nil
}

var errNoCredentials = errors.New("no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (paddock up prints the pair) or pass --profile")

// resolveEndpoint picks --endpoint, else PADDOCK_ENDPOINT, else the
// default, and accepts a bare host:port as http.
func (o *clientOptions) resolveEndpoint() (string, error) {
	e := o.endpoint
	if (o.endpointFlag == nil || !o.endpointFlag.Changed) && os.Getenv("PADDOCK_ENDPOINT") != "" {
		e = os.Getenv("PADDOCK_ENDPOINT")
	}
	if !strings.Contains(e, "://") {
		e = "http://" + e
	}
	u, err := url.Parse(e)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("endpoint %q is not an http(s) URL such as %s", e, defaultEndpoint)
	}
	return strings.TrimSuffix(u.Scheme+"://"+u.Host+u.Path, "/"), nil
}

// get sends a signed GET of path and returns the body of a 2xx answer.
func (c *apiClient) get(ctx context.Context, path string) ([]byte, error) {
	return c.do(ctx, http.MethodGet, path, nil)
}

// getJSON GETs path and decodes the answer into v.
func (c *apiClient) getJSON(ctx context.Context, path string, v any) error {
	body, err := c.get(ctx, path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%s%s answered with JSON this paddock cannot read: %w", c.endpoint, path, err)
	}
	return nil
}

// do sends a signed request and turns every failure into an error a person
// can act on.
func (c *apiClient) do(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.endpoint+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	sum := sha256.Sum256(body)
	if err := c.signer.SignHTTP(ctx, c.creds, req, hex.EncodeToString(sum[:]), signingService, c.region, time.Now()); err != nil {
		return nil, fmt.Errorf("sign request: %w", err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return nil, &noPaddockError{endpoint: c.endpoint}
		}
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read the answer of %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 == 2 {
		return data, nil
	}
	return nil, c.apiError(resp, path, data)
}

// apiError reads an AWS-shaped error (X-Amzn-ErrorType and a JSON body with
// a message) and adds the hint that fixes the usual causes.
func (c *apiClient) apiError(resp *http.Response, path string, data []byte) error {
	code := resp.Header.Get("X-Amzn-ErrorType")
	// AWS may append ":<docs URL>" to the type.
	code, _, _ = strings.Cut(code, ":")
	if code == "" {
		snippet := strings.TrimSpace(string(data))
		if len(snippet) > 200 {
			snippet = snippet[:200] + "..."
		}
		return fmt.Errorf("%s answered %s to %s, without an AWS error: is it a Paddock? %s", c.endpoint, resp.Status, path, snippet)
	}
	var body struct {
		Message  string `json:"message"`
		MessageC string `json:"Message"` // some AWS services capitalize it
	}
	json.Unmarshal(data, &body) //nolint:errcheck // a body without a message still has its code
	msg := firstNonEmpty(body.Message, body.MessageC, resp.Status)
	e := &apiErr{Code: code, Message: msg, Status: resp.StatusCode}
	switch code {
	case "UnrecognizedClientException", "InvalidSignatureException", "MissingAuthenticationTokenException", "IncompleteSignatureException":
		if c.credSource == "environment" {
			e.Hint = "check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY: paddock up prints the pair"
		} else {
			e.Hint = "check the access key pair of " + c.credSource + ": paddock up prints the pair"
		}
	case "UnknownOperationException":
		e.Hint = "the Paddock at " + c.endpoint + " does not serve " + path + "; it may be older than this paddock binary"
	}
	return e
}

// noPaddockError is a refused connection: nothing listens at the endpoint.
// It has its own type because watching verbs keep polling through it.
type noPaddockError struct{ endpoint string }

func (e *noPaddockError) Error() string {
	return "no Paddock at " + e.endpoint + ": start one with `paddock up`"
}

// apiErr is an error answered by Paddock. Callers may match on Code.
type apiErr struct {
	Code    string
	Message string
	Status  int
	Hint    string
}

func (e *apiErr) Error() string {
	s := e.Code + ": " + e.Message
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
