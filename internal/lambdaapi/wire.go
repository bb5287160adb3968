package lambdaapi

import (
	"cmp"
	"time"

	"github.com/paddockhq/paddock/internal/control"
)

// Wire shapes of the AWS Lambda API model. Only this package knows them;
// control works with domain types.

const timeFormat = "2006-01-02T15:04:05.000-0700"

func stamp(t time.Time) string { return t.UTC().Format(timeFormat) }

type vpcConfig struct {
	SubnetIds        []string `json:"SubnetIds"`
	SecurityGroupIds []string `json:"SecurityGroupIds"`
}

type permissionsConfig struct {
	CapacityProviderOperatorRoleArn string `json:"CapacityProviderOperatorRoleArn"`
}

type instanceRequirements struct {
	Architectures         []string `json:"Architectures,omitempty"`
	AllowedInstanceTypes  []string `json:"AllowedInstanceTypes,omitempty"`
	ExcludedInstanceTypes []string `json:"ExcludedInstanceTypes,omitempty"`
}

type scalingPolicy struct {
	PredefinedMetricType string  `json:"PredefinedMetricType"`
	TargetValue          float64 `json:"TargetValue"`
}

type cpScalingConfig struct {
	MaxVCpuCount    *int            `json:"MaxVCpuCount,omitempty"`
	ScalingMode     string          `json:"ScalingMode,omitempty"`
	ScalingPolicies []scalingPolicy `json:"ScalingPolicies,omitempty"`
}

type capacityProvider struct {
	CapacityProviderArn           string               `json:"CapacityProviderArn"`
	State                         string               `json:"State"`
	VpcConfig                     vpcConfig            `json:"VpcConfig"`
	PermissionsConfig             permissionsConfig    `json:"PermissionsConfig"`
	InstanceRequirements          instanceRequirements `json:"InstanceRequirements"`
	CapacityProviderScalingConfig cpScalingConfig      `json:"CapacityProviderScalingConfig"`
	KmsKeyArn                     string               `json:"KmsKeyArn,omitempty"`
	LastModified                  string               `json:"LastModified"`
}

type createCapacityProviderRequest struct {
	CapacityProviderName          string                `json:"CapacityProviderName"`
	VpcConfig                     *vpcConfig            `json:"VpcConfig"`
	PermissionsConfig             *permissionsConfig    `json:"PermissionsConfig"`
	InstanceRequirements          *instanceRequirements `json:"InstanceRequirements"`
	CapacityProviderScalingConfig *cpScalingConfig      `json:"CapacityProviderScalingConfig"`
	KmsKeyArn                     string                `json:"KmsKeyArn"`
	Tags                          map[string]string     `json:"Tags"`
}

func scalingToWire(s control.CPScaling) cpScalingConfig {
	max := s.MaxVCPU
	out := cpScalingConfig{MaxVCpuCount: &max, ScalingMode: s.Mode}
	for _, p := range s.Policies {
		out.ScalingPolicies = append(out.ScalingPolicies, scalingPolicy{p.Metric, p.Target})
	}
	return out
}

func scalingFromWire(w *cpScalingConfig) control.CPScaling {
	var s control.CPScaling
	if w == nil {
		return s
	}
	if w.MaxVCpuCount != nil {
		s.MaxVCPU = *w.MaxVCpuCount
		if s.MaxVCPU == 0 {
			s.MaxVCPU = -1 // explicit 0 is out of range, not "default"
		}
	}
	s.Mode = w.ScalingMode
	for _, p := range w.ScalingPolicies {
		s.Policies = append(s.Policies, control.ScalingPolicy{Metric: p.PredefinedMetricType, Target: p.TargetValue})
	}
	return s
}

func cpToWire(cp *control.CapacityProvider) capacityProvider {
	return capacityProvider{
		CapacityProviderArn: cp.ARN,
		State:               cp.State,
		VpcConfig:           vpcConfig{SubnetIds: nonNil(cp.SubnetIDs), SecurityGroupIds: nonNil(cp.SecurityGroupIDs)},
		PermissionsConfig:   permissionsConfig{cp.OperatorRoleARN},
		InstanceRequirements: instanceRequirements{
			Architectures:         []string{cp.Architecture},
			AllowedInstanceTypes:  cp.AllowedTypes,
			ExcludedInstanceTypes: cp.ExcludedTypes,
		},
		CapacityProviderScalingConfig: scalingToWire(cp.Scaling),
		KmsKeyArn:                     cp.KMSKeyARN,
		LastModified:                  stamp(cp.LastModified),
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

type lmiConfig struct {
	CapacityProviderArn                   string   `json:"CapacityProviderArn"`
	PerExecutionEnvironmentMaxConcurrency *int     `json:"PerExecutionEnvironmentMaxConcurrency,omitempty"`
	ExecutionEnvironmentMemoryGiBPerVCpu  *float64 `json:"ExecutionEnvironmentMemoryGiBPerVCpu,omitempty"`
}

type capacityProviderConfig struct {
	LambdaManagedInstancesCapacityProviderConfig *lmiConfig `json:"LambdaManagedInstancesCapacityProviderConfig"`
}

type environment struct {
	Variables map[string]string `json:"Variables"`
}

type loggingConfig struct {
	LogFormat           string `json:"LogFormat,omitempty"`
	ApplicationLogLevel string `json:"ApplicationLogLevel,omitempty"`
	SystemLogLevel      string `json:"SystemLogLevel,omitempty"`
	LogGroup            string `json:"LogGroup,omitempty"`
}

type ephemeralStorage struct {
	Size int `json:"Size"`
}

type tracingConfig struct {
	Mode string `json:"Mode"`
}

type functionConfiguration struct {
	FunctionName           string                  `json:"FunctionName"`
	FunctionArn            string                  `json:"FunctionArn"`
	Runtime                string                  `json:"Runtime"`
	Role                   string                  `json:"Role"`
	Handler                string                  `json:"Handler,omitempty"`
	CodeSize               int64                   `json:"CodeSize"`
	Description            string                  `json:"Description"`
	Timeout                int                     `json:"Timeout"`
	MemorySize             int                     `json:"MemorySize"`
	LastModified           string                  `json:"LastModified"`
	CodeSha256             string                  `json:"CodeSha256"`
	Version                string                  `json:"Version"`
	Layers                 []layerRef              `json:"Layers,omitempty"`
	Environment            *environment            `json:"Environment,omitempty"`
	TracingConfig          tracingConfig           `json:"TracingConfig"`
	DeadLetterConfig       *deadLetterConfig       `json:"DeadLetterConfig,omitempty"`
	RevisionId             string                  `json:"RevisionId"`
	State                  string                  `json:"State"`
	StateReason            string                  `json:"StateReason,omitempty"`
	StateReasonCode        string                  `json:"StateReasonCode,omitempty"`
	LastUpdateStatus       string                  `json:"LastUpdateStatus,omitempty"`
	LastUpdateStatusReason string                  `json:"LastUpdateStatusReason,omitempty"`
	LastUpdateReasonCode   string                  `json:"LastUpdateStatusReasonCode,omitempty"`
	PackageType            string                  `json:"PackageType"`
	Architectures          []string                `json:"Architectures"`
	EphemeralStorage       ephemeralStorage        `json:"EphemeralStorage"`
	LoggingConfig          loggingConfig           `json:"LoggingConfig"`
	CapacityProviderConfig *capacityProviderConfig `json:"CapacityProviderConfig,omitempty"`
	SnapStart              snapStart               `json:"SnapStart"`
	RuntimeVersionConfig   runtimeVersionConfig    `json:"RuntimeVersionConfig"`
}

// deadLetterConfig is a function's dead-letter queue (SQS) or topic (SNS).
type deadLetterConfig struct {
	TargetArn string `json:"TargetArn"`
}

// snapStart is what AWS answers for a function without SnapStart (every
// provided runtime: SnapStart is for Java, Python and .NET).
type snapStart struct {
	ApplyOn            string `json:"ApplyOn"`
	OptimizationStatus string `json:"OptimizationStatus"`
}

type runtimeVersionConfig struct {
	RuntimeVersionArn string `json:"RuntimeVersionArn"`
}

// versionToWire is configToWire for the answers that name versions
// (ListVersionsByFunction, GetFunction with Qualifier $LATEST): there AWS
// qualifies $LATEST's ARN as well.
func (a *API) versionToWire(c *control.Config) functionConfiguration {
	out := a.configToWire(c)
	out.FunctionArn = a.ctl.FunctionARN(c.FunctionName, c.Version)
	return out
}

func (a *API) configToWire(c *control.Config) functionConfiguration {
	out := functionConfiguration{
		FunctionName: c.FunctionName,
		FunctionArn:  a.ctl.FunctionARN(c.FunctionName, c.Version),
		Runtime:      c.Runtime, Role: c.Role, Handler: c.Handler,
		CodeSize: c.CodeSize, Description: c.Description, Timeout: c.Timeout, MemorySize: c.MemorySize,
		LastModified: stamp(c.LastModified), CodeSha256: c.CodeSHA256, Version: c.Version,
		Layers:        layerRefsToWire(c.Layers),
		TracingConfig: tracingConfig{c.TracingMode}, RevisionId: c.RevisionID,
		State: c.State, StateReason: c.StateReason, StateReasonCode: c.StateReasonCode,
		LastUpdateStatus: c.LastUpdateStatus, LastUpdateStatusReason: c.LastUpdateStatusReason,
		LastUpdateReasonCode: c.LastUpdateStatusReasonCode, PackageType: "Zip",
		Architectures:    []string{c.Architecture},
		EphemeralStorage: ephemeralStorage{c.EphemeralStorage},
		LoggingConfig: loggingConfig{LogFormat: c.LogFormat, ApplicationLogLevel: c.AppLogLevel,
			SystemLogLevel: c.SystemLogLevel, LogGroup: c.LogGroup},
	}
	if c.Version == control.Latest {
		out.FunctionArn = a.ctl.FunctionARN(c.FunctionName, "")
	}
	if c.DeadLetterTarget != "" {
		out.DeadLetterConfig = &deadLetterConfig{TargetArn: c.DeadLetterTarget}
	}
	if c.Env != nil {
		out.Environment = &environment{Variables: c.Env}
	}
	out.SnapStart = snapStart{ApplyOn: "None", OptimizationStatus: "Off"}
	out.RuntimeVersionConfig.RuntimeVersionArn = a.ctl.RuntimeVersionARN(c.Runtime)
	if c.LogFormat == "JSON" {
		// JSON logs filter by level; AWS fills INFO for levels not set.
		out.LoggingConfig.ApplicationLogLevel = cmp.Or(out.LoggingConfig.ApplicationLogLevel, "INFO")
		out.LoggingConfig.SystemLogLevel = cmp.Or(out.LoggingConfig.SystemLogLevel, "INFO")
	}
	if c.LMI != nil {
		l := &lmiConfig{CapacityProviderArn: c.LMI.CapacityProviderARN}
		m := c.MaxConcurrency() // AWS answers the default it applies
		l.PerExecutionEnvironmentMaxConcurrency = &m
		if c.LMI.GiBPerVCPU > 0 {
			g := c.LMI.GiBPerVCPU
			l.ExecutionEnvironmentMemoryGiBPerVCpu = &g
		}
		out.CapacityProviderConfig = &capacityProviderConfig{l}
	}
	return out
}

func lmiFromWire(w *capacityProviderConfig) *control.LMIConfig {
	if w == nil || w.LambdaManagedInstancesCapacityProviderConfig == nil {
		return nil
	}
	l := w.LambdaManagedInstancesCapacityProviderConfig
	out := &control.LMIConfig{CapacityProviderARN: l.CapacityProviderArn}
	if l.PerExecutionEnvironmentMaxConcurrency != nil {
		out.MaxConcurrency = *l.PerExecutionEnvironmentMaxConcurrency
		if out.MaxConcurrency == 0 {
			out.MaxConcurrency = -1 // explicit 0 is out of range
		}
	}
	if l.ExecutionEnvironmentMemoryGiBPerVCpu != nil {
		out.GiBPerVCPU = *l.ExecutionEnvironmentMemoryGiBPerVCpu
		if out.GiBPerVCPU == 0 {
			out.GiBPerVCPU = -1
		}
	}
	return out
}

type functionCode struct {
	ZipFile  []byte `json:"ZipFile"` // base64 in JSON, as the model's Blob
	S3Bucket string `json:"S3Bucket"`
	S3Key    string `json:"S3Key"`
	ImageUri string `json:"ImageUri"`
}

type createFunctionRequest struct {
	FunctionName           string                  `json:"FunctionName"`
	Runtime                string                  `json:"Runtime"`
	Role                   string                  `json:"Role"`
	Handler                string                  `json:"Handler"`
	Code                   *functionCode           `json:"Code"`
	Description            string                  `json:"Description"`
	Timeout                *int                    `json:"Timeout"`
	MemorySize             *int                    `json:"MemorySize"`
	Publish                bool                    `json:"Publish"`
	PublishTo              string                  `json:"PublishTo"`
	PackageType            string                  `json:"PackageType"`
	Environment            *environment            `json:"Environment"`
	TracingConfig          *tracingConfig          `json:"TracingConfig"`
	DeadLetterConfig       *deadLetterConfig       `json:"DeadLetterConfig"`
	Tags                   map[string]string       `json:"Tags"`
	Architectures          []string                `json:"Architectures"`
	EphemeralStorage       *ephemeralStorage       `json:"EphemeralStorage"`
	LoggingConfig          *loggingConfig          `json:"LoggingConfig"`
	CapacityProviderConfig *capacityProviderConfig `json:"CapacityProviderConfig"`
	Layers                 []string                `json:"Layers"`
}

type updateFunctionConfigurationRequest struct {
	Role                   *string                 `json:"Role"`
	Handler                *string                 `json:"Handler"`
	Description            *string                 `json:"Description"`
	Timeout                *int                    `json:"Timeout"`
	MemorySize             *int                    `json:"MemorySize"`
	Environment            *environment            `json:"Environment"`
	Runtime                *string                 `json:"Runtime"`
	TracingConfig          *tracingConfig          `json:"TracingConfig"`
	DeadLetterConfig       *deadLetterConfig       `json:"DeadLetterConfig"`
	RevisionId             string                  `json:"RevisionId"`
	EphemeralStorage       *ephemeralStorage       `json:"EphemeralStorage"`
	LoggingConfig          *loggingConfig          `json:"LoggingConfig"`
	CapacityProviderConfig *capacityProviderConfig `json:"CapacityProviderConfig"`
	Layers                 *[]string               `json:"Layers"`
}

type updateFunctionCodeRequest struct {
	ZipFile       []byte   `json:"ZipFile"`
	S3Bucket      string   `json:"S3Bucket"`
	ImageUri      string   `json:"ImageUri"`
	Publish       bool     `json:"Publish"`
	PublishTo     string   `json:"PublishTo"`
	DryRun        bool     `json:"DryRun"`
	RevisionId    string   `json:"RevisionId"`
	Architectures []string `json:"Architectures"`
}

type publishVersionRequest struct {
	CodeSha256  string `json:"CodeSha256"`
	Description string `json:"Description"`
	RevisionId  string `json:"RevisionId"`
	PublishTo   string `json:"PublishTo"`
}

type aliasRoutingConfiguration struct {
	AdditionalVersionWeights map[string]float64 `json:"AdditionalVersionWeights,omitempty"`
}

type aliasConfiguration struct {
	AliasArn        string                     `json:"AliasArn"`
	Name            string                     `json:"Name"`
	FunctionVersion string                     `json:"FunctionVersion"`
	Description     string                     `json:"Description"`
	RoutingConfig   *aliasRoutingConfiguration `json:"RoutingConfig,omitempty"`
	RevisionId      string                     `json:"RevisionId"`
}

type aliasRequest struct {
	Name            *string                    `json:"Name"`
	FunctionVersion *string                    `json:"FunctionVersion"`
	Description     *string                    `json:"Description"`
	RoutingConfig   *aliasRoutingConfiguration `json:"RoutingConfig"`
	RevisionId      string                     `json:"RevisionId"`
}

func (a *API) aliasToWire(al *control.Alias) aliasConfiguration {
	out := aliasConfiguration{
		AliasArn: a.ctl.AliasARN(al), Name: al.Name, FunctionVersion: al.Version,
		Description: al.Description, RevisionId: al.RevisionID,
	}
	if len(al.Weights) > 0 {
		out.RoutingConfig = &aliasRoutingConfiguration{al.Weights}
	}
	return out
}

type functionScalingConfig struct {
	MinExecutionEnvironments *int `json:"MinExecutionEnvironments,omitempty"`
	MaxExecutionEnvironments *int `json:"MaxExecutionEnvironments,omitempty"`
}
