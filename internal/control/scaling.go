package control

import (
	"context"
	"strconv"

	"github.com/paddockhq/paddock/internal/awserr"
)

// PutFunctionScalingConfig sets a version's (or $LATEST.PUBLISHED's) min
// and max EEs and returns the function state it leads to.
func (s *Service) PutFunctionScalingConfig(ctx context.Context, function, qualifier string, sc ScalingConfig) (string, error) {
	if err := validateScaling(sc); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.function(function)
	if err != nil {
		return "", err
	}
	if f.fn.Latest.LMI == nil {
		return "", awserr.InvalidParameter("Function scaling configs apply to functions on a capacity provider only.")
	}
	if qualifier == LatestPublished {
		next := f.fn
		next.PublishedScaling = &sc
		if err := s.put(ctx, fnKey(function), &next); err != nil {
			return "", err
		}
		f.fn = next
		if f.fn.LatestPublished == 0 {
			s.notify()
			return f.fn.Latest.State, nil
		}
		qualifier = strconv.Itoa(f.fn.LatestPublished)
	}
	v, err := s.version(f, qualifier)
	if err != nil {
		return "", err
	}
	next := *v
	next.Scaling = sc
	switch {
	case sc.MaxEEs() == 0:
		if next.Config.State == StateActive || next.Config.State == StatePending {
			next.Config.State, next.Config.StateReasonCode, next.Config.StateReason = StateDeactivating, "", "The version is being deactivated."
		}
	case next.Config.State == StateDeactivated || next.Config.State == StateDeactivating:
		next.Config.State, next.Config.StateReasonCode, next.Config.StateReason = StatePending, "Creating", "The version is being activated."
	}
	if err := s.put(ctx, verKey(function, v.Number), &next); err != nil {
		return "", err
	}
	f.versions[v.Number] = &next
	s.publishRoutes()
	s.notify()
	return next.Config.State, nil
}

func validateScaling(sc ScalingConfig) error {
	for _, p := range []*int{sc.Min, sc.Max} {
		if p != nil && (*p < 0 || *p > 15000) {
			return awserr.Validation("1 validation error detected: Value '%d' at 'functionScalingConfig' failed to satisfy constraint: Member must have value between 0 and 15000", *p)
		}
	}
	if sc.Min != nil && sc.Max != nil && *sc.Min > *sc.Max {
		return awserr.InvalidParameter("MinExecutionEnvironments (%d) cannot be greater than MaxExecutionEnvironments (%d).", *sc.Min, *sc.Max)
	}
	if sc.Min != nil && *sc.Min == 0 && (sc.Max == nil || *sc.Max != 0) {
		return awserr.InvalidParameter("MinExecutionEnvironments can be 0 only together with MaxExecutionEnvironments 0, which deactivates the version.")
	}
	if sc.Max != nil && *sc.Max == 0 && (sc.Min == nil || *sc.Min != 0) {
		return awserr.InvalidParameter("MaxExecutionEnvironments can be 0 only together with MinExecutionEnvironments 0, which deactivates the version.")
	}
	if sc.Min == nil && sc.Max != nil && *sc.Max < DefaultMinEEs {
		return awserr.InvalidParameter("MaxExecutionEnvironments (%d) cannot be less than the default MinExecutionEnvironments (%d).", *sc.Max, DefaultMinEEs)
	}
	return nil
}

func (s *Service) version(f *fnState, qualifier string) (*Version, error) {
	if !isVersion(qualifier) {
		return nil, awserr.Validation("1 validation error detected: Value '%s' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: (\\$LATEST\\.PUBLISHED|[0-9]+)", qualifier)
	}
	n, _ := strconv.Atoi(qualifier)
	v := f.versions[n]
	if v == nil {
		return nil, awserr.NotFound("Function not found: %s", s.FunctionARN(f.fn.Latest.FunctionName, qualifier))
	}
	return v, nil
}

// ScalingConfigs is what GetFunctionScalingConfig returns.
type ScalingConfigs struct {
	FunctionARN string
	Requested   ScalingConfig
	Applied     ScalingConfig
}

// GetFunctionScalingConfig returns the requested and applied scaling config.
func (s *Service) GetFunctionScalingConfig(function, qualifier string) (*ScalingConfigs, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.function(function)
	if err != nil {
		return nil, err
	}
	if qualifier == LatestPublished {
		out := &ScalingConfigs{FunctionARN: s.FunctionARN(function, LatestPublished)}
		if f.fn.PublishedScaling != nil {
			out.Requested = *f.fn.PublishedScaling
		}
		if v := f.versions[f.fn.LatestPublished]; v != nil {
			out.Applied = applied(v)
		}
		return out, nil
	}
	v, err := s.version(f, qualifier)
	if err != nil {
		return nil, err
	}
	return &ScalingConfigs{FunctionARN: s.FunctionARN(function, qualifier), Requested: v.Scaling, Applied: applied(v)}, nil
}

// applied is the config in force: the request with its defaults filled.
func applied(v *Version) ScalingConfig {
	min := v.Scaling.MinEEs()
	out := ScalingConfig{Min: &min}
	if m := v.Scaling.MaxEEs(); m >= 0 {
		out.Max = &m
	}
	return out
}

// Workload is one published LMI version as the provisioning loop sees it.
type Workload struct {
	Key              string // router key
	Function         string
	Version          int
	Config           Config
	MinEEs, MaxEEs   int // MaxEEs -1: none
	CapacityProvider CapacityProvider
}

// Workloads lists every published version on a capacity provider that
// should have EEs (Pending, Active, Deactivating).
func (s *Service) Workloads() []Workload {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Workload
	for name, f := range s.fns {
		for n, v := range f.versions {
			if v.Config.LMI == nil {
				continue
			}
			cp := s.cpByARN(v.Config.LMI.CapacityProviderARN)
			if cp == nil {
				continue
			}
			out = append(out, Workload{
				Key: RouterKey(name, n), Function: name, Version: n, Config: v.Config,
				MinEEs: v.Scaling.MinEEs(), MaxEEs: v.Scaling.MaxEEs(), CapacityProvider: *cp,
			})
		}
	}
	return out
}

// CapacityProviders lists all capacity providers.
func (s *Service) CapacityProviders() []CapacityProvider {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]CapacityProvider, 0, len(s.cps))
	for _, cp := range s.cps {
		out = append(out, *cp)
	}
	return out
}

// SetVersionState records a version's lifecycle step (Pending → Active,
// Failed, Deactivated). Unknown versions (deleted meanwhile) are ignored.
func (s *Service) SetVersionState(ctx context.Context, function string, version int, state, reasonCode, reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.fns[function]
	if f == nil || f.versions[version] == nil {
		return nil
	}
	v := *f.versions[version]
	if v.Config.State == state && v.Config.StateReasonCode == reasonCode {
		return nil
	}
	v.Config.State, v.Config.StateReasonCode, v.Config.StateReason = state, reasonCode, reason
	if err := s.put(ctx, verKey(function, version), &v); err != nil {
		return err
	}
	f.versions[version] = &v
	s.publishRoutes()
	return nil
}
