package control

import (
	"time"

	"github.com/paddockhq/paddock/internal/runtimes"
)

// States shared by functions, versions and capacity providers (the model's
// State and CapacityProviderState enums).
const (
	StatePending            = "Pending"
	StateActive             = "Active"
	StateFailed             = "Failed"
	StateDeleting           = "Deleting"
	StateDeactivating       = "Deactivating"
	StateDeactivated        = "Deactivated"
	StateActiveNonInvocable = "ActiveNonInvocable"
)

// CapacityProvider is a pool of instances that LMI function versions run on.
type CapacityProvider struct {
	Name             string            `json:"name"`
	ARN              string            `json:"arn"`
	State            string            `json:"state"`
	StateReason      string            `json:"stateReason,omitempty"`
	SubnetIDs        []string          `json:"subnetIds"`
	SecurityGroupIDs []string          `json:"securityGroupIds"`
	OperatorRoleARN  string            `json:"operatorRoleArn"`
	Architecture     string            `json:"architecture"`
	AllowedTypes     []string          `json:"allowedTypes,omitempty"`
	ExcludedTypes    []string          `json:"excludedTypes,omitempty"`
	Scaling          CPScaling         `json:"scaling"`
	KMSKeyARN        string            `json:"kmsKeyArn,omitempty"`
	Tags             map[string]string `json:"tags,omitempty"`
	LastModified     time.Time         `json:"lastModified"`
}

// CPScaling is a capacity provider's scaling configuration.
type CPScaling struct {
	MaxVCPU  int             `json:"maxVCpu"`
	Mode     string          `json:"mode"` // Auto | Manual
	Policies []ScalingPolicy `json:"policies,omitempty"`
}

// ScalingPolicy is a target-tracking policy (Manual mode).
type ScalingPolicy struct {
	Metric string  `json:"metric"`
	Target float64 `json:"target"`
}

// OverflowTag opts an LMI function into burst overflow: invokes its EEs
// would refuse run on on-demand EEs instead, billed by the GB-second.
const OverflowTag = "paddock:overflow"

// Defaults from SPEC §2 and §3.
const (
	DefaultMaxVCPU           = 400
	DefaultMinEEs            = 3
	DefaultGiBPerVCPU        = 2.0
	DefaultConcurrencyPerCPU = 8 // provided (custom) runtimes
	DefaultTimeout           = 3
	DefaultMemoryMB          = 128
	DefaultLMIMemoryMB       = 2048
	MaxVersionsPerCP         = 100
	MaxCapacityProviders     = 1000
)

// LMIConfig places a function on a capacity provider.
type LMIConfig struct {
	CapacityProviderARN string  `json:"capacityProviderArn"`
	MaxConcurrency      int     `json:"maxConcurrency,omitempty"` // 0: the runtime's default per vCPU
	GiBPerVCPU          float64 `json:"gibPerVCpu,omitempty"`     // 0: DefaultGiBPerVCPU
}

// Config is one function configuration: $LATEST's, or a published version's
// frozen copy.
type Config struct {
	FunctionName     string            `json:"functionName"`
	Version          string            `json:"version"`
	Runtime          string            `json:"runtime"`
	Role             string            `json:"role"`
	Handler          string            `json:"handler"`
	Description      string            `json:"description,omitempty"`
	Timeout          int               `json:"timeout"`
	MemorySize       int               `json:"memorySize"`
	Env              map[string]string `json:"env"` // nil: never set; empty: set to {} (AWS answers it back)
	Architecture     string            `json:"architecture"`
	CodeSHA256       string            `json:"codeSha256"`
	CodeSize         int64             `json:"codeSize"`
	CodeUnzipped     int64             `json:"codeUnzipped,omitempty"` // bytes the code unzips to; 0 for code stored before it was kept
	Layers           []LayerRef        `json:"layers,omitempty"`       // in the order they are extracted under /opt (functionlayers.go)
	EphemeralStorage int               `json:"ephemeralStorage"`
	TracingMode      string            `json:"tracingMode"`
	LogFormat        string            `json:"logFormat"`
	AppLogLevel      string            `json:"appLogLevel,omitempty"`
	SystemLogLevel   string            `json:"systemLogLevel,omitempty"`
	LogGroup         string            `json:"logGroup"`
	DeadLetterTarget string            `json:"deadLetterTarget,omitempty"` // DeadLetterConfig.TargetArn: an SQS queue or SNS topic
	LMI              *LMIConfig        `json:"lmi,omitempty"`
	RevisionID       string            `json:"revisionId"`
	LastModified     time.Time         `json:"lastModified"`
	State            string            `json:"state"`
	StateReason      string            `json:"stateReason,omitempty"`
	StateReasonCode  string            `json:"stateReasonCode,omitempty"`
	LastUpdateStatus string            `json:"lastUpdateStatus"`

	LastUpdateStatusReason     string `json:"lastUpdateStatusReason,omitempty"`
	LastUpdateStatusReasonCode string `json:"lastUpdateStatusReasonCode,omitempty"`
}

// VCPUMilli is the EE's vCPU allocation in thousandths: memory divided by
// the GiB-per-vCPU ratio.
func (c *Config) VCPUMilli() int {
	ratio := DefaultGiBPerVCPU
	if c.LMI != nil && c.LMI.GiBPerVCPU > 0 {
		ratio = c.LMI.GiBPerVCPU
	}
	return int(float64(c.MemorySize) / 1024 / ratio * 1000)
}

// MaxConcurrency is the EE's max concurrent invokes: the configured value,
// or the runtime's default per vCPU times its vCPUs (at least 1).
func (c *Config) MaxConcurrency() int {
	if c.LMI == nil {
		return 1
	}
	if c.LMI.MaxConcurrency > 0 {
		return c.LMI.MaxConcurrency
	}
	perCPU := DefaultConcurrencyPerCPU
	if r, ok := runtimes.Lookup(c.Runtime); ok {
		perCPU = r.PerVCPU // Lambda's default for the runtime: Node.js 64, Java 32, Python 16
	}
	n := perCPU * c.VCPUMilli() / 1000
	if n < 1 {
		n = 1
	}
	return n
}

// ScalingConfig is a version's requested FunctionScalingConfig. Nil fields
// take the defaults (min 3, no max).
type ScalingConfig struct {
	Min *int `json:"min,omitempty"`
	Max *int `json:"max,omitempty"`
}

// MinEEs is the requested minimum, or the default.
func (s ScalingConfig) MinEEs() int {
	if s.Min != nil {
		return *s.Min
	}
	return DefaultMinEEs
}

// MaxEEs is the requested maximum; -1 means none.
func (s ScalingConfig) MaxEEs() int {
	if s.Max != nil {
		return *s.Max
	}
	return -1
}

// Function is a function's record: $LATEST and what its versions share.
type Function struct {
	Latest           Config            `json:"latest"`
	LastVersion      int               `json:"lastVersion"`
	LatestPublished  int               `json:"latestPublished,omitempty"`  // version $LATEST.PUBLISHED points at; 0: none
	PublishedScaling *ScalingConfig    `json:"publishedScaling,omitempty"` // config on $LATEST.PUBLISHED, carried to new versions
	Tags             map[string]string `json:"tags,omitempty"`
	Reserved         *int              `json:"reserved,omitempty"` // reserved concurrency; nil: none
	Settings         FunctionSettings  `json:"settings,omitzero"`
}

// Version is a published version.
type Version struct {
	Config  Config        `json:"config"`
	Number  int           `json:"number"`
	Scaling ScalingConfig `json:"scaling"`
}

// Alias points a name at a version.
type Alias struct {
	Name        string             `json:"name"`
	Function    string             `json:"function"`
	Version     string             `json:"version"`
	Description string             `json:"description,omitempty"`
	Weights     map[string]float64 `json:"weights,omitempty"`
	RevisionID  string             `json:"revisionId"`
}
