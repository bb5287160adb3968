package control

import (
	"context"

	"github.com/paddockhq/paddock/internal/awserr"
)

// FunctionSettings are the function-wide settings that infrastructure tools
// read and write on every deploy beside the configuration: the runtime
// update mode (Get/PutRuntimeManagementConfig) and the recursive loop
// setting (Get/PutFunctionRecursionConfig). Empty fields are AWS's defaults.
type FunctionSettings struct {
	UpdateRuntimeOn   string `json:"updateRuntimeOn,omitempty"`   // Auto (default) | FunctionUpdate | Manual
	RuntimeVersionARN string `json:"runtimeVersionArn,omitempty"` // Manual only
	RecursiveLoop     string `json:"recursiveLoop,omitempty"`     // Terminate (default) | Allow
}

// RuntimeManagement is a function's runtime update mode as AWS answers it.
type RuntimeManagement struct {
	FunctionARN       string
	UpdateRuntimeOn   string
	RuntimeVersionARN string // set only in Manual mode
}

// GetRuntimeManagementConfig returns the runtime update mode of the
// function (any qualifier names the same function-wide setting).
func (s *Service) GetRuntimeManagementConfig(name, qualifier string) (*RuntimeManagement, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.function(name)
	if err != nil {
		return nil, err
	}
	if qualifier != "" && qualifier != Latest {
		if _, err := s.version(f, qualifier); err != nil {
			return nil, err
		}
	}
	st := f.fn.Settings
	out := &RuntimeManagement{FunctionARN: s.FunctionARN(name, qualifier), UpdateRuntimeOn: st.UpdateRuntimeOn, RuntimeVersionARN: st.RuntimeVersionARN}
	if out.UpdateRuntimeOn == "" {
		out.UpdateRuntimeOn = "Auto"
	}
	return out, nil
}

// PutRuntimeManagementConfig sets the runtime update mode. Paddock has one
// version of each runtime, so every mode runs the same one; Manual must
// name that version, as AWS refuses a runtime version it does not have.
func (s *Service) PutRuntimeManagementConfig(ctx context.Context, name, qualifier, mode, versionARN string) (*RuntimeManagement, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.function(name)
	if err != nil {
		return nil, err
	}
	if qualifier != "" && qualifier != Latest {
		return nil, awserr.InvalidParameter("The runtime management configuration can only be set on $LATEST.")
	}
	switch {
	case mode == "Manual" && versionARN == "":
		return nil, awserr.InvalidParameter("RuntimeVersionArn is required when UpdateRuntimeOn is Manual.")
	case mode == "Manual" && versionARN != s.RuntimeVersionARN(f.fn.Latest.Runtime):
		return nil, awserr.InvalidParameter("The runtime version %s is not available for runtime %s.", versionARN, f.fn.Latest.Runtime)
	case mode != "Manual" && versionARN != "":
		return nil, awserr.InvalidParameter("RuntimeVersionArn can only be set when UpdateRuntimeOn is Manual.")
	}
	next := f.fn
	next.Settings.UpdateRuntimeOn, next.Settings.RuntimeVersionARN = mode, versionARN
	if err := s.put(ctx, fnKey(name), &next); err != nil {
		return nil, err
	}
	f.fn = next
	return &RuntimeManagement{FunctionARN: s.FunctionARN(name, ""), UpdateRuntimeOn: mode, RuntimeVersionARN: versionARN}, nil
}

// GetFunctionRecursionConfig returns the recursive loop setting.
func (s *Service) GetFunctionRecursionConfig(name string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.function(name)
	if err != nil {
		return "", err
	}
	if f.fn.Settings.RecursiveLoop == "" {
		return "Terminate", nil
	}
	return f.fn.Settings.RecursiveLoop, nil
}

// PutFunctionRecursionConfig stores the recursive loop setting. Lambda
// stops loops through SQS, SNS and S3 under Terminate; Paddock has no
// event triggers yet, so no such loop can form, and either value holds.
func (s *Service) PutFunctionRecursionConfig(ctx context.Context, name, loop string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.function(name)
	if err != nil {
		return "", err
	}
	next := f.fn
	next.Settings.RecursiveLoop = loop
	if err := s.put(ctx, fnKey(name), &next); err != nil {
		return "", err
	}
	f.fn = next
	return loop, nil
}
