package control

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"

	"github.com/paddockhq/paddock/internal/awserr"
	"github.com/paddockhq/paddock/internal/codezip"
	"github.com/paddockhq/paddock/internal/ids"
	"github.com/paddockhq/paddock/internal/runtimes"
)

// customRuntimes are the OS-only runtimes, which execute ./bootstrap; the
// managed ones (internal/runtimes) run where Options.Runtimes has them.
var customRuntimes = map[string]bool{"provided.al2023": true, "provided.al2": true, "provided": true}

// Every runtime in the model, to tell "unknown" from "not yet supported".
var knownRuntimes = map[string]bool{
	"nodejs": true, "nodejs4.3": true, "nodejs6.10": true, "nodejs8.10": true, "nodejs10.x": true, "nodejs12.x": true,
	"nodejs14.x": true, "nodejs16.x": true, "java8": true, "java8.al2": true, "java11": true, "python2.7": true,
	"python3.6": true, "python3.7": true, "python3.8": true, "python3.9": true, "dotnetcore1.0": true, "dotnetcore2.0": true,
	"dotnetcore2.1": true, "dotnetcore3.1": true, "dotnet6": true, "dotnet8": true, "nodejs4.3-edge": true, "go1.x": true,
	"ruby2.5": true, "ruby2.7": true, "provided": true, "provided.al2": true, "nodejs18.x": true, "python3.10": true,
	"java17": true, "ruby3.2": true, "ruby3.3": true, "ruby3.4": true, "python3.11": true, "nodejs20.x": true,
	"provided.al2023": true, "python3.12": true, "java21": true, "python3.13": true, "nodejs22.x": true, "nodejs24.x": true,
	"python3.14": true, "java25": true, "dotnet10": true, "ruby4.0": true,
}

// CreateFunctionInput is a CreateFunction request in domain terms.
type CreateFunctionInput struct {
	Config    Config // the user-settable fields
	Zip       []byte
	Layers    []string // layer version ARNs, in the order they are extracted
	Publish   bool
	PublishTo string
	Tags      map[string]string
}

// CodeHex is the object-store key of a CodeSha256 (base64) value.
func CodeHex(codeSHA256 string) string {
	b, err := base64.StdEncoding.DecodeString(codeSHA256)
	if err != nil {
		return ""
	}
	return hex.EncodeToString(b)
}

// MaxZipBytes is Lambda's limit on a directly uploaded deployment package.
const MaxZipBytes = 50 << 20

// storedCode is a zip in the object store: CodeSha256, its size, and the
// size of what it unzips to.
type storedCode struct {
	sha            string
	size, unzipped int64
}

// storeCode checks a zip (function code, or a layer's content) and stores
// it; op names the operation in the too-large refusal.
func (s *Service) storeCode(ctx context.Context, zip []byte, op string) (storedCode, error) {
	if len(zip) == 0 {
		return storedCode{}, awserr.InvalidParameter("Code.ZipFile is required: Paddock takes code as a zip upload (S3 locations and images are not supported).")
	}
	if len(zip) > MaxZipBytes {
		return storedCode{}, awserr.RequestTooLarge("Request must be smaller than %d bytes for the %s operation: the zip is %d bytes", MaxZipBytes, op, len(zip))
	}
	info, err := codezip.Inspect(zip, codezip.Limits{})
	if err != nil {
		switch {
		case errors.Is(err, codezip.ErrNotZip):
			return storedCode{}, awserr.InvalidParameter("Could not unzip uploaded file. Please check your file, then try to upload again.")
		case errors.Is(err, codezip.ErrTooLarge):
			return storedCode{}, awserr.InvalidParameter("Unzipped size must be smaller than 262144000 bytes (%v).", err)
		default:
			return storedCode{}, awserr.InvalidParameter("The uploaded zip is not safe to extract: %v", err)
		}
	}
	sum := sha256.Sum256(zip)
	if err := s.store.PutCode(ctx, hex.EncodeToString(sum[:]), zip); err != nil {
		return storedCode{}, awserr.Service("could not store code: %v", err)
	}
	return storedCode{base64.StdEncoding.EncodeToString(sum[:]), int64(len(zip)), info.UnzippedBytes}, nil
}

// runtimeAvailable is nil when functions of runtime can run here.
func (s *Service) runtimeAvailable(runtime string) error {
	if customRuntimes[runtime] {
		return nil
	}
	if s.runtimes == nil {
		return runtimes.Check(runtime)
	}
	return s.runtimes.Available(runtime)
}

// validateConfig checks user-settable fields and fills defaults. Under s.mu
// (it looks up capacity providers).
func (s *Service) validateConfig(c *Config) error {
	if c.Runtime == "" {
		return awserr.InvalidParameter("Runtime is required for a .zip deployment package.")
	}
	if !knownRuntimes[c.Runtime] {
		return awserr.Validation("1 validation error detected: Value '%s' at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [provided.al2023, provided.al2, ...]", c.Runtime)
	}
	if c.Handler == "" && !customRuntimes[c.Runtime] {
		// A managed runtime's client has nothing to load without it. AWS
		// answers a ValidationException (pulumi/pulumi-aws#1326 shows the
		// code, with no message); the text, in the form of AWS's
		// ValidationExceptions, is not confirmed.
		return awserr.Validation("1 validation error detected: Value null at 'handler' failed to satisfy constraint: Member must not be null")
	}
	if err := s.runtimeAvailable(c.Runtime); err != nil {
		return awserr.InvalidParameter("%s", err.Error())
	}
	if !roleARNRE.MatchString(c.Role) {
		return awserr.Validation("1 validation error detected: Value '%s' at 'role' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+", c.Role)
	}
	if c.Handler != "" && (!handlerRE.MatchString(c.Handler) || len(c.Handler) > 128) {
		return awserr.Validation("1 validation error detected: Value '%s' at 'handler' failed to satisfy constraint: Member must satisfy regular expression pattern: [^\\s]+", c.Handler)
	}
	if len(c.Description) > 256 {
		return awserr.Validation("1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 256")
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if maxTimeout := MaxTimeout(c); c.Timeout < 1 || c.Timeout > maxTimeout {
		return awserr.InvalidParameter("1 validation error detected: Value '%d' at 'timeout' failed to satisfy constraint: Member must have value between 1 and %d", c.Timeout, maxTimeout)
	}
	for k := range c.Env {
		if !envNameRE.MatchString(k) {
			return awserr.Validation("1 validation error detected: Value at 'environment.variables' failed to satisfy constraint: Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]")
		}
	}
	if n := envSize(c.Env); n > 4096 {
		return awserr.InvalidParameter("Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: %d", n)
	}
	if c.EphemeralStorage == 0 {
		c.EphemeralStorage = 512
	}
	if c.EphemeralStorage < 512 || c.EphemeralStorage > 10240 {
		return awserr.Validation("1 validation error detected: Value '%d' at 'ephemeralStorage.size' failed to satisfy constraint: Member must have value between 512 and 10240", c.EphemeralStorage)
	}
	if c.TracingMode == "" {
		c.TracingMode = "PassThrough"
	}
	if err := validateDeadLetter(c.DeadLetterTarget); err != nil {
		return err
	}
	if c.TracingMode != "PassThrough" && c.TracingMode != "Active" {
		return awserr.Validation("1 validation error detected: Value '%s' at 'tracingConfig.mode' failed to satisfy constraint: Member must satisfy enum value set: [Active, PassThrough]", c.TracingMode)
	}
	if c.LogGroup == "" {
		c.LogGroup = "/aws/lambda/" + c.FunctionName
	}
	if c.LMI == nil {
		return validateDefaultMode(c)
	}
	cp := s.cpByARN(c.LMI.CapacityProviderARN)
	if cp == nil {
		if !cpARNRE.MatchString(c.LMI.CapacityProviderARN) {
			return awserr.Validation("1 validation error detected: Value '%s' at 'capacityProviderConfig.lambdaManagedInstancesCapacityProviderConfig.capacityProviderArn' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:aws[a-zA-Z-]*:lambda:[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:\\d{12}:capacity-provider:[a-zA-Z0-9-_]+", c.LMI.CapacityProviderARN)
		}
		// AWS's text for a capacity provider that does not exist.
		return awserr.NotFound("Capacity provider not found: %s", c.LMI.CapacityProviderARN)
	}
	if c.Architecture == "" {
		c.Architecture = cp.Architecture
	}
	if c.Architecture != "x86_64" && c.Architecture != "arm64" {
		return awserr.Validation("1 validation error detected: Value '[%s]' at 'architectures' failed to satisfy constraint: Member must satisfy enum value set: [x86_64, arm64]", c.Architecture)
	}
	if c.Architecture != cp.Architecture {
		return awserr.InvalidParameter("The function's architecture %s does not match capacity provider %s, which runs %s instances.", c.Architecture, cp.Name, cp.Architecture)
	}
	if c.MemorySize == 0 {
		c.MemorySize = DefaultLMIMemoryMB
	}
	if c.MemorySize < 2048 || c.MemorySize > 32768 {
		return awserr.InvalidParameter("MemorySize %d is out of range for a function on a capacity provider: it must be between 2048 and 32768 MB.", c.MemorySize)
	}
	if c.LMI.GiBPerVCPU == 0 {
		c.LMI.GiBPerVCPU = DefaultGiBPerVCPU
	}
	if g := c.LMI.GiBPerVCPU; g != 2 && g != 4 && g != 8 {
		return awserr.InvalidParameter("ExecutionEnvironmentMemoryGiBPerVCpu must be 2, 4 or 8; got %v.", g)
	}
	if float64(c.MemorySize)/1024 < c.LMI.GiBPerVCPU {
		return awserr.InvalidParameter("MemorySize %d MB is less than one vCPU's worth (%v GiB) at ExecutionEnvironmentMemoryGiBPerVCpu %v.", c.MemorySize, c.LMI.GiBPerVCPU, c.LMI.GiBPerVCPU)
	}
	if m := c.LMI.MaxConcurrency; m != 0 && (m < 1 || m > 1600) {
		return awserr.Validation("1 validation error detected: Value '%d' at 'perExecutionEnvironmentMaxConcurrency' failed to satisfy constraint: Member must have value between 1 and 1600", m)
	}
	if c.Runtime == "provided.al2" {
		// LMI runs on Amazon Linux 2023 images only; AWS lists provided.al2023 as its one OS-only runtime.
		return awserr.InvalidParameter("The runtime parameter of provided.al2 is not supported for functions with a capacity provider. Use provided.al2023.")
	}
	if c.LogFormat == "Text" {
		// "Lambda Managed Instances only support JSON log format" (AWS's
		// guide, Configuring JSON and plain text log formats); the text of
		// the refusal is Paddock's.
		return awserr.InvalidParameter("LogFormat Text is not supported for functions with a capacity provider: Lambda Managed Instances only support the JSON log format.")
	}
	c.LogFormat = "JSON" // SPEC §5: LMI logs interleave, so they are JSON with requestId
	return nil
}

// Lambda's default mode: memory 128-10240 MB, one request per EE.
const (
	MinDefaultMemoryMB = 128
	MaxDefaultMemoryMB = 10240
)

func validateDefaultMode(c *Config) error {
	if c.Architecture == "" {
		c.Architecture = "x86_64"
	}
	if c.Architecture != "x86_64" && c.Architecture != "arm64" {
		return awserr.Validation("1 validation error detected: Value '[%s]' at 'architectures' failed to satisfy constraint: Member must satisfy enum value set: [x86_64, arm64]", c.Architecture)
	}
	if c.MemorySize == 0 {
		c.MemorySize = DefaultMemoryMB
	}
	if c.MemorySize < MinDefaultMemoryMB || c.MemorySize > MaxDefaultMemoryMB {
		// The model allows up to 32768 (for LMI); AWS's service refuses more than 10240 in default mode with this text.
		return awserr.InvalidParameter("'MemorySize' value failed to satisfy constraint: Member must have value less than or equal to %d", MaxDefaultMemoryMB)
	}
	if c.LogFormat == "" {
		c.LogFormat = "Text"
	}
	return nil
}

func validatePublishTo(v string) error {
	if v != "" && v != "LATEST_PUBLISHED" {
		return awserr.Validation("1 validation error detected: Value '%s' at 'publishTo' failed to satisfy constraint: Member must satisfy enum value set: [LATEST_PUBLISHED]", v)
	}
	return nil
}

func envSize(env map[string]string) int {
	n := 0
	for k, v := range env {
		n += len(k) + len(v)
	}
	return n
}

// CreateFunction creates a function and, with Publish, its first version.
func (s *Service) CreateFunction(ctx context.Context, in CreateFunctionInput) (*Config, error) {
	c := in.Config
	if c.FunctionName == "" {
		return nil, awserr.InvalidParameter("FunctionName is required.")
	}
	name, q, err := ParseFunctionName(c.FunctionName)
	if err != nil {
		return nil, err
	}
	if q != "" {
		return nil, awserr.InvalidParameter("A qualifier is not allowed in the function name of CreateFunction.")
	}
	c.FunctionName = name
	if err := validatePublishTo(in.PublishTo); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.validateConfig(&c); err != nil {
		return nil, err
	}
	if c.Layers, err = s.resolveLayers(in.Layers); err != nil { // functionlayers.go
		return nil, err
	}
	if _, ok := s.fns[name]; ok {
		return nil, awserr.Conflict("Function already exist: %s", name)
	}
	code, err := s.storeCode(ctx, in.Zip, "CreateFunction")
	if err != nil {
		return nil, err
	}
	c.CodeSHA256, c.CodeSize, c.CodeUnzipped = code.sha, code.size, code.unzipped
	if err := checkUnzippedTotal(c); err != nil { // functionlayers.go
		return nil, err
	}
	c.Version = Latest
	c.RevisionID = ids.New()
	c.LastModified = now()
	// Pending until Settle has the code ready; no LastUpdateStatus yet.
	c.State, c.StateReason, c.StateReasonCode, c.LastUpdateStatus = StatePending, reasonCreating, reasonCodeCreating, ""
	f := newFnState(Function{Latest: c, Tags: in.Tags})
	if err := s.put(ctx, fnKey(name), &f.fn); err != nil {
		return nil, err
	}
	s.fns[name] = f
	out := f.fn.Latest
	if in.Publish || in.PublishTo != "" {
		v, err := s.publish(ctx, f, "", in.PublishTo != "")
		if err != nil {
			return nil, err
		}
		out = publishedConfig(v, in.PublishTo != "")
	}
	s.publishRoutes()
	s.kickSettle()
	return &out, nil
}

// publishedConfig is the answer for a publish: the version, or, with PublishTo
// LATEST_PUBLISHED, the same configuration as version $LATEST.PUBLISHED (AWS:
// "publish-version --publish-to LATEST_PUBLISHED" answers "Version":
// "$LATEST.PUBLISHED" and an ARN qualified with it).
func publishedConfig(v *Version, toLatestPublished bool) Config {
	c := v.Config
	if toLatestPublished {
		c.Version = LatestPublished
	}
	return c
}

func (s *Service) function(name string) (*fnState, error) {
	f, ok := s.fns[name]
	if !ok {
		return nil, awserr.NotFound("Function not found: %s", s.FunctionARN(name, ""))
	}
	return f, nil
}

// FunctionDetails is what GetFunction returns.
type FunctionDetails struct {
	Config Config
	Tags   map[string]string
}

// GetFunction returns a function's configuration at qualifier ($LATEST when empty).
func (s *Service) GetFunction(name, qualifier string) (*FunctionDetails, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.function(name)
	if err != nil {
		return nil, err
	}
	c, err := s.configAt(f, qualifier)
	if err != nil {
		return nil, err
	}
	out := *c
	if qualifier == LatestPublished {
		out.Version = LatestPublished
	}
	return &FunctionDetails{Config: out, Tags: f.fn.Tags}, nil
}

// configAt resolves a qualifier of f to a configuration. Under s.mu.
func (s *Service) configAt(f *fnState, qualifier string) (*Config, error) {
	name := f.fn.Latest.FunctionName
	switch {
	case qualifier == "" || qualifier == Latest:
		return &f.fn.Latest, nil
	case qualifier == LatestPublished:
		if v := f.versions[f.fn.LatestPublished]; v != nil {
			return &v.Config, nil
		}
	case isVersion(qualifier):
		n, _ := strconv.Atoi(qualifier)
		if v := f.versions[n]; v != nil {
			return &v.Config, nil
		}
	default:
		if a := f.aliases[qualifier]; a != nil {
			if v := f.versions[s.aliasTarget(f, a.Version)]; v != nil {
				return &v.Config, nil
			}
		}
	}
	return nil, awserr.NotFound("Function not found: %s", s.FunctionARN(name, qualifier))
}

// ListFunctions pages through functions ($LATEST), or every version with all.
func (s *Service) ListFunctions(marker string, max int, all bool) ([]Config, string, error) {
	if max < 0 || max > 10000 {
		return nil, "", awserr.Validation("1 validation error detected: Value '%d' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 10000", max)
	}
	s.mu.Lock()
	var out []Config
	for _, f := range s.fns {
		out = append(out, f.fn.Latest)
		if all {
			for _, v := range f.versions {
				out = append(out, v.Config)
			}
		}
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return listKey(out[i]) < listKey(out[j]) })
	if max > 50 {
		max = 50 // Lambda returns at most 50 per page
	}
	return page(out, marker, max, 50, listKey)
}

// listKey orders functions by name, then $LATEST, then versions by number.
func listKey(c Config) string {
	v := "0"
	if c.Version != Latest {
		n, _ := strconv.Atoi(c.Version)
		v = fmt.Sprintf("1%010d", n)
	}
	return c.FunctionName + "\x00" + v
}

// UpdateCodeInput is an UpdateFunctionCode request.
type UpdateCodeInput struct {
	Zip          []byte
	Architecture string
	Publish      bool
	PublishTo    string
	DryRun       bool
	RevisionID   string
}

// UpdateFunctionCode replaces $LATEST's code.
func (s *Service) UpdateFunctionCode(ctx context.Context, name string, in UpdateCodeInput) (*Config, error) {
	if err := validatePublishTo(in.PublishTo); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.function(name)
	if err != nil {
		return nil, err
	}
	if in.RevisionID != "" && in.RevisionID != f.fn.Latest.RevisionID {
		return nil, awserr.RevisionMismatch()
	}
	if err := s.busy(f.fn.Latest); err != nil {
		return nil, err
	}
	c := f.fn.Latest
	if in.Architecture != "" {
		c.Architecture = in.Architecture
		if err := s.validateConfig(&c); err != nil {
			return nil, err
		}
	}
	if in.DryRun {
		if _, err := codezip.Inspect(in.Zip, codezip.Limits{}); err != nil {
			return nil, awserr.InvalidParameter("Could not unzip uploaded file. Please check your file, then try to upload again.")
		}
		c.CodeSHA256, c.CodeSize = codezip.CodeSha256(in.Zip), int64(len(in.Zip))
		return &c, nil
	}
	code, err := s.storeCode(ctx, in.Zip, "CreateFunction")
	if err != nil {
		return nil, err
	}
	c.CodeSHA256, c.CodeSize, c.CodeUnzipped = code.sha, code.size, code.unzipped
	if err := checkUnzippedTotal(c); err != nil { // functionlayers.go
		return nil, err
	}
	return s.replaceLatest(ctx, f, c, in.Publish || in.PublishTo != "", in.PublishTo != "")
}

// ConfigPatch is an UpdateFunctionConfiguration request: nil fields stay.
type ConfigPatch struct {
	Role, Handler, Description, Runtime    *string
	Timeout, MemorySize, EphemeralStorage  *int
	Env                                    *map[string]string
	TracingMode                            *string
	DeadLetterTarget                       *string // "" clears it
	LogFormat, AppLogLevel, SystemLogLevel *string
	LogGroup                               *string
	LMI                                    *LMIConfig
	Layers                                 *[]string // layer version ARNs; empty removes every layer
	RevisionID                             string
}

// UpdateFunctionConfiguration changes $LATEST's settings.
func (s *Service) UpdateFunctionConfiguration(ctx context.Context, name string, p ConfigPatch) (*Config, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.function(name)
	if err != nil {
		return nil, err
	}
	if p.RevisionID != "" && p.RevisionID != f.fn.Latest.RevisionID {
		return nil, awserr.RevisionMismatch()
	}
	if err := s.busy(f.fn.Latest); err != nil {
		return nil, err
	}
	c := f.fn.Latest
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&c.Role, p.Role)
	set(&c.Handler, p.Handler)
	set(&c.Description, p.Description)
	set(&c.Runtime, p.Runtime)
	set(&c.TracingMode, p.TracingMode)
	set(&c.DeadLetterTarget, p.DeadLetterTarget)
	set(&c.AppLogLevel, p.AppLogLevel)
	set(&c.SystemLogLevel, p.SystemLogLevel)
	set(&c.LogGroup, p.LogGroup)
	set(&c.LogFormat, p.LogFormat)
	if p.Timeout != nil {
		c.Timeout = *p.Timeout
		if c.Timeout == 0 {
			c.Timeout = -1 // an explicit 0 is out of range, not "default"
		}
	}
	if p.MemorySize != nil {
		c.MemorySize = *p.MemorySize
		if c.MemorySize == 0 {
			c.MemorySize = -1
		}
	}
	if p.EphemeralStorage != nil {
		c.EphemeralStorage = *p.EphemeralStorage
	}
	if p.Env != nil {
		c.Env = *p.Env
	}
	if p.LMI != nil {
		if c.LMI == nil {
			return nil, awserr.InvalidParameter("The compute mode of a function is fixed when it is created: this function does not use a capacity provider.")
		}
		lmi := *p.LMI
		c.LMI = &lmi
	}
	if c.MemorySize < 0 {
		return nil, awserr.Validation("1 validation error detected: Value '0' at 'memorySize' failed to satisfy constraint: Member must have value greater than or equal to 128")
	}
	if err := s.validateConfig(&c); err != nil {
		return nil, err
	}
	if p.Layers != nil {
		if c.Layers, err = s.resolveLayers(*p.Layers); err != nil { // functionlayers.go
			return nil, err
		}
		if err := checkUnzippedTotal(c); err != nil {
			return nil, err
		}
	}
	return s.replaceLatest(ctx, f, c, false, false)
}

// replaceLatest stores a new $LATEST and optionally publishes it. Under s.mu.
func (s *Service) replaceLatest(ctx context.Context, f *fnState, c Config, publish, toLatestPublished bool) (*Config, error) {
	c.RevisionID = ids.New()
	c.LastModified = now()
	// InProgress until Settle has the new code or settings ready; the
	// reason is the text AWS sends for an update, "being created" included.
	c.LastUpdateStatus, c.LastUpdateStatusReason, c.LastUpdateStatusReasonCode = statusInProgress, reasonCreating, reasonCodeCreating
	next := f.fn
	next.Latest = c
	if err := s.put(ctx, fnKey(c.FunctionName), &next); err != nil {
		return nil, err
	}
	f.fn = next
	out := c
	if publish {
		v, err := s.publish(ctx, f, "", toLatestPublished)
		if err != nil {
			return nil, err
		}
		out = publishedConfig(v, toLatestPublished)
	}
	s.publishRoutes()
	s.kickSettle()
	return &out, nil
}

// PublishVersionInput is a PublishVersion request.
type PublishVersionInput struct {
	CodeSHA256  string
	Description string
	RevisionID  string
	PublishTo   string
}

// PublishVersion publishes $LATEST as a new version (or returns the latest
// version when nothing changed since, as Lambda does).
func (s *Service) PublishVersion(ctx context.Context, name string, in PublishVersionInput) (*Config, error) {
	if err := validatePublishTo(in.PublishTo); err != nil {
		return nil, err
	}
	if len(in.Description) > 256 {
		return nil, awserr.Validation("1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 256")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.function(name)
	if err != nil {
		return nil, err
	}
	if in.RevisionID != "" && in.RevisionID != f.fn.Latest.RevisionID {
		return nil, awserr.RevisionMismatch()
	}
	if err := s.busy(f.fn.Latest); err != nil {
		return nil, err
	}
	if in.CodeSHA256 != "" && in.CodeSHA256 != f.fn.Latest.CodeSHA256 {
		return nil, awserr.InvalidParameter("CodeSHA256 (%s) is different from current CodeSHA256 in $LATEST (%s). Please try again with the CodeSHA256 in $LATEST.", in.CodeSHA256, f.fn.Latest.CodeSHA256)
	}
	v, err := s.publish(ctx, f, in.Description, in.PublishTo != "")
	if err != nil {
		return nil, err
	}
	s.publishRoutes()
	c := publishedConfig(v, in.PublishTo != "")
	return &c, nil
}

// publish creates the next version from $LATEST, or returns the last version
// when $LATEST has not changed since (changedSince). Only toLatestPublished
// (PublishTo LATEST_PUBLISHED) moves $LATEST.PUBLISHED, which unqualified
// invokes of an LMI function run: a plain numbered publish leaves it. Under
// s.mu.
func (s *Service) publish(ctx context.Context, f *fnState, description string, toLatestPublished bool) (*Version, error) {
	latest := f.fn.Latest
	if last := f.versions[f.fn.LastVersion]; last != nil && !changedSince(last.Config, latest) {
		if toLatestPublished && f.fn.LatestPublished != last.Number {
			next := f.fn
			next.LatestPublished = last.Number
			if err := s.put(ctx, fnKey(latest.FunctionName), &next); err != nil {
				return nil, err
			}
			f.fn = next
			s.notify()
		}
		return last, nil
	}
	if latest.LMI != nil {
		if n := len(s.versionsOn(latest.LMI.CapacityProviderARN)); n >= MaxVersionsPerCP {
			return nil, awserr.LimitExceeded("FunctionVersionsPerCapacityProviderLimitExceededException",
				"The capacity provider already runs %d function versions, the maximum.", n)
		}
	}
	n := f.fn.LastVersion + 1
	c := latest
	c.Version = strconv.Itoa(n)
	if description != "" {
		c.Description = description
	}
	c.RevisionID = ids.New()
	c.LastModified = now()
	c.State, c.StateReason, c.StateReasonCode = StatePending, reasonCreating, reasonCodeCreating
	c.LastUpdateStatus, c.LastUpdateStatusReason, c.LastUpdateStatusReasonCode = statusSuccessful, "", ""
	// LMI: Pending until the scaler has the version's EEs. Default mode
	// provisions nothing ahead (EEs start on demand): a version of a
	// settled $LATEST is Active at once; one published while $LATEST is
	// still being created or updated waits for Settle, like $LATEST.
	if c.LMI == nil && latest.State != StatePending && latest.LastUpdateStatus != statusInProgress {
		c.State, c.StateReason, c.StateReasonCode = StateActive, "", ""
	}
	v := &Version{Config: c, Number: n}
	if f.fn.PublishedScaling != nil {
		v.Scaling = *f.fn.PublishedScaling
	}
	if err := s.put(ctx, verKey(c.FunctionName, n), v); err != nil {
		return nil, err
	}
	next := f.fn
	next.LastVersion = n
	if toLatestPublished {
		next.LatestPublished = n
	}
	if err := s.put(ctx, fnKey(c.FunctionName), &next); err != nil {
		return nil, err
	}
	f.fn = next
	f.versions[n] = v
	s.notify()
	return v, nil
}

// sameCode reports whether a version was published from the same code and
// configuration as c.
func sameCode(v, c Config) bool {
	strip := func(x Config) string {
		x.Version, x.RevisionID, x.LastModified = "", "", c.LastModified
		x.State, x.StateReason, x.StateReasonCode, x.LastUpdateStatus, x.Description = "", "", "", "", ""
		b, _ := json.Marshal(x)
		return string(b)
	}
	return strip(v) == strip(c)
}

// ListVersionsByFunction pages through $LATEST and the versions.
func (s *Service) ListVersionsByFunction(name, marker string, max int) ([]Config, string, error) {
	s.mu.Lock()
	f, err := s.function(name)
	if err != nil {
		s.mu.Unlock()
		return nil, "", err
	}
	out := []Config{f.fn.Latest}
	for _, v := range f.versions {
		out = append(out, v.Config)
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return listKey(out[i]) < listKey(out[j]) })
	if max > 50 {
		max = 50
	}
	return page(out, marker, max, 50, listKey)
}

// DeleteFunction deletes a function (all of it), or one version. async is
// true for a function on a capacity provider, whose deletion AWS answers with
// 202 (its capacity is released asynchronously); others are 204.
func (s *Service) DeleteFunction(ctx context.Context, name, qualifier string) (async bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.function(name)
	if err != nil {
		return false, err
	}
	return f.fn.Latest.LMI != nil, s.deleteFunction(ctx, f, name, qualifier)
}

func (s *Service) deleteFunction(ctx context.Context, f *fnState, name, qualifier string) error {
	switch {
	case qualifier == "":
		for a := range f.aliases {
			if err := s.del(ctx, aliasKey(name, a)); err != nil {
				return err
			}
		}
		for n := range f.versions {
			if err := s.del(ctx, verKey(name, n)); err != nil {
				return err
			}
		}
		for q := range f.provisioned {
			if err := s.del(ctx, pcKey(name, q)); err != nil {
				return err
			}
		}
		if err := s.dropFunctionExtras(ctx, name); err != nil { // tags and policies (policy.go)
			return err
		}
		if err := s.dropFunctionURLConfigs(ctx, name); err != nil { // functionurl.go
			return err
		}
		if err := s.del(ctx, fnKey(name)); err != nil {
			return err
		}
		delete(s.fns, name)
	case qualifier == Latest:
		return awserr.InvalidParameter("Deletion of the $LATEST version of a function is not allowed; delete the function instead.")
	case isVersion(qualifier):
		n, _ := strconv.Atoi(qualifier)
		if f.versions[n] == nil {
			return awserr.NotFound("Function not found: %s", s.FunctionARN(name, qualifier))
		}
		for _, a := range f.aliases {
			if s.aliasTarget(f, a.Version) == n || a.Weights[qualifier] > 0 {
				return awserr.Conflict("Unable to delete version because the following aliases reference it: [%s]", a.Name)
			}
		}
		if err := s.del(ctx, verKey(name, n)); err != nil {
			return err
		}
		delete(f.versions, n)
		if err := s.dropPolicy(ctx, name, qualifier); err != nil { // policy.go
			return err
		}
		if err := s.dropEventInvokeConfig(ctx, name, qualifier); err != nil { // eventinvoke.go
			return err
		}
		if f.fn.LatestPublished == n {
			// $LATEST.PUBLISHED moves only with PublishTo, never to
			// another numbered version.
			next := f.fn
			next.LatestPublished = 0
			if err := s.put(ctx, fnKey(name), &next); err != nil {
				return err
			}
			f.fn = next
		}
	default:
		return awserr.InvalidParameter("Deleting an alias through DeleteFunction is not allowed; use DeleteAlias.")
	}
	s.publishRoutes()
	s.notify()
	return nil
}

// Lambda's timeouts: 900 s, and on Lambda Managed Instances up to 5,400 s
// for asynchronous and event source mapping invokes ("Configuring Lambda
// function timeout": synchronous invokes keep 900 s). The text for a
// value above 5,400 on LMI follows the 900 s one; AWS's is not recorded.
const (
	MaxSyncTimeout = 900
	MaxLMITimeout  = 5400
)

// MaxTimeout is the largest Timeout c may have.
func MaxTimeout(c *Config) int {
	if c.LMI != nil {
		return MaxLMITimeout
	}
	return MaxSyncTimeout
}
