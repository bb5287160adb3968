package control

import (
	"context"
	"sort"
	"strings"

	"github.com/paddockhq/paddock/internal/awserr"
	"github.com/paddockhq/paddock/internal/fleet"
)

// CreateCapacityProvider validates cp, fills defaults and stores it.
// The caller sets Name, VPC, permissions, instance requirements, scaling,
// KMS key and tags; the rest is Paddock's.
func (s *Service) CreateCapacityProvider(ctx context.Context, cp CapacityProvider) (*CapacityProvider, error) {
	if err := validateCapacityProvider(&cp); err != nil {
		return nil, err
	}
	if err := ValidateTags(cp.Tags); err != nil { // the rules TagResource applies (tags.go)
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.cps[cp.Name]; ok {
		return nil, awserr.Conflict("Capacity provider %s already exists.", cp.Name)
	}
	if len(s.cps) >= MaxCapacityProviders {
		return nil, awserr.LimitExceeded("CapacityProviderLimitExceededException", "You have reached the maximum number of capacity providers (%d).", MaxCapacityProviders)
	}
	cp.ARN = s.capacityProviderARN(cp.Name)
	cp.State = StateActive
	cp.LastModified = now()
	if err := s.put(ctx, cpKey(cp.Name), &cp); err != nil {
		return nil, err
	}
	s.cps[cp.Name] = &cp
	c := cp
	return &c, nil
}

func validateCapacityProvider(cp *CapacityProvider) error {
	if cp.Name == "" {
		return awserr.InvalidParameter("CapacityProviderName is required.")
	}
	if !plainNameRE.MatchString(cp.Name) || len(cp.Name) > 140 {
		return awserr.Validation("1 validation error detected: Value '%s' at 'capacityProviderName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9-_]+", cp.Name)
	}
	if n := len(cp.SubnetIDs); n < 1 || n > 16 {
		return awserr.InvalidParameter("VpcConfig.SubnetIds must have between 1 and 16 items.")
	}
	if len(cp.SecurityGroupIDs) > 5 {
		return awserr.InvalidParameter("VpcConfig.SecurityGroupIds must have at most 5 items.")
	}
	if !roleARNRE.MatchString(cp.OperatorRoleARN) {
		return awserr.InvalidParameter("PermissionsConfig.CapacityProviderOperatorRoleArn must be an IAM role ARN; got '%s'.", cp.OperatorRoleARN)
	}
	switch cp.Architecture {
	case "":
		cp.Architecture = "x86_64"
	case "x86_64", "arm64":
	default:
		return awserr.Validation("1 validation error detected: Value '[%s]' at 'instanceRequirements.architectures' failed to satisfy constraint: Member must satisfy enum value set: [x86_64, arm64]", cp.Architecture)
	}
	if len(cp.AllowedTypes) > 0 && len(cp.ExcludedTypes) > 0 {
		return awserr.InvalidParameter("Specify either AllowedInstanceTypes or ExcludedInstanceTypes, not both.")
	}
	for _, p := range append(append([]string(nil), cp.AllowedTypes...), cp.ExcludedTypes...) {
		if !fleet.ValidInstanceTypePattern(p) {
			return awserr.InvalidParameter("Instance type '%s' is not valid.", p)
		}
	}
	if len(fleet.MatchInstanceTypes(cp.Architecture, cp.AllowedTypes, cp.ExcludedTypes)) == 0 {
		return awserr.InvalidParameter("No %s instance type matches the instance requirements.", cp.Architecture)
	}
	return validateCPScaling(&cp.Scaling)
}

func validateCPScaling(sc *CPScaling) error {
	if sc.MaxVCPU == 0 {
		sc.MaxVCPU = DefaultMaxVCPU
	}
	if sc.MaxVCPU < 2 || sc.MaxVCPU > 15000 {
		return awserr.Validation("1 validation error detected: Value '%d' at 'capacityProviderScalingConfig.maxVCpuCount' failed to satisfy constraint: Member must have value between 2 and 15000", sc.MaxVCPU)
	}
	switch sc.Mode {
	case "":
		sc.Mode = "Auto"
		if len(sc.Policies) > 0 {
			sc.Mode = "Manual"
		}
	case "Auto", "Manual":
	default:
		return awserr.Validation("1 validation error detected: Value '%s' at 'capacityProviderScalingConfig.scalingMode' failed to satisfy constraint: Member must satisfy enum value set: [Auto, Manual]", sc.Mode)
	}
	if len(sc.Policies) > 10 {
		return awserr.InvalidParameter("ScalingPolicies must have at most 10 items.")
	}
	if sc.Mode == "Manual" && len(sc.Policies) == 0 {
		return awserr.InvalidParameter("ScalingPolicies are required when ScalingMode is Manual.")
	}
	if sc.Mode == "Auto" && len(sc.Policies) > 0 {
		return awserr.InvalidParameter("ScalingPolicies can only be set when ScalingMode is Manual.")
	}
	for _, p := range sc.Policies {
		if p.Metric != "LambdaCapacityProviderAverageCPUUtilization" {
			return awserr.Validation("1 validation error detected: Value '%s' at 'predefinedMetricType' failed to satisfy constraint: Member must satisfy enum value set: [LambdaCapacityProviderAverageCPUUtilization]", p.Metric)
		}
		if p.Target < 0 || p.Target > 100 {
			return awserr.InvalidParameter("TargetValue must be between 0 and 100; got %v.", p.Target)
		}
	}
	return nil
}

// GetCapacityProvider returns a capacity provider by name or ARN.
func (s *Service) GetCapacityProvider(name string) (*CapacityProvider, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cp, ok := s.cps[name]
	if !ok {
		return nil, s.cpNotFound(name)
	}
	c := *cp
	return &c, nil
}

func (s *Service) cpNotFound(name string) error {
	return awserr.NotFound("Capacity provider not found: %s", s.capacityProviderARN(name))
}

// UpdateCapacityProvider replaces the scaling config (the only mutable part).
func (s *Service) UpdateCapacityProvider(ctx context.Context, name string, sc *CPScaling) (*CapacityProvider, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cp, ok := s.cps[name]
	if !ok {
		return nil, s.cpNotFound(name)
	}
	if cp.State == StateDeleting {
		return nil, awserr.Conflict("Capacity provider %s is being deleted.", name)
	}
	next := *cp
	if sc != nil {
		scaling := *sc
		if err := validateCPScaling(&scaling); err != nil {
			return nil, err
		}
		next.Scaling = scaling
	}
	next.LastModified = now()
	if err := s.put(ctx, cpKey(name), &next); err != nil {
		return nil, err
	}
	s.cps[name] = &next
	s.notify()
	c := next
	return &c, nil
}

// DeleteCapacityProvider removes a capacity provider no version uses.
func (s *Service) DeleteCapacityProvider(ctx context.Context, name string) (*CapacityProvider, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cp, ok := s.cps[name]
	if !ok {
		return nil, s.cpNotFound(name)
	}
	if n := s.functionsOn(cp.ARN); n > 0 {
		// AWS's text; the Terraform provider retries the deletion while it
		// sees "To delete this capacity provider, first remove its association".
		return nil, awserr.Conflict("The capacity provider is currently in use by %d functions. To delete this capacity provider, first remove its association with %s.", n, cp.ARN)
	}
	if err := s.dropTags(ctx, "capacity-provider", name); err != nil { // tags.go
		return nil, err
	}
	if err := s.del(ctx, cpKey(name)); err != nil {
		return nil, err
	}
	delete(s.cps, name)
	s.notify()
	out := *cp
	out.State = StateDeleting
	return &out, nil
}

// functionsOn counts the functions whose $LATEST or a published version
// runs on the capacity provider. Under s.mu.
func (s *Service) functionsOn(arn string) int {
	n := 0
	for _, f := range s.fns {
		on := f.fn.Latest.LMI != nil && f.fn.Latest.LMI.CapacityProviderARN == arn
		for _, v := range f.versions {
			on = on || v.Config.LMI != nil && v.Config.LMI.CapacityProviderARN == arn
		}
		if on {
			n++
		}
	}
	return n
}

// ListCapacityProviders pages through capacity providers by name.
func (s *Service) ListCapacityProviders(state, marker string, max int) ([]CapacityProvider, string, error) {
	s.mu.Lock()
	var all []CapacityProvider
	for _, cp := range s.cps {
		if state == "" || cp.State == state {
			all = append(all, *cp)
		}
	}
	s.mu.Unlock()
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	return page(all, marker, max, 50, func(cp CapacityProvider) string { return cp.Name })
}

// VersionRef names one function version and its state.
type VersionRef struct {
	FunctionARN string
	State       string
}

// ListFunctionVersionsByCapacityProvider pages through the versions on a capacity provider.
func (s *Service) ListFunctionVersionsByCapacityProvider(name, marker string, max int) (string, []VersionRef, string, error) {
	s.mu.Lock()
	cp, ok := s.cps[name]
	if !ok {
		s.mu.Unlock()
		return "", nil, "", s.cpNotFound(name)
	}
	refs := s.versionsOn(cp.ARN)
	arn := cp.ARN
	s.mu.Unlock()
	items, next, err := page(refs, marker, max, 50, func(r VersionRef) string { return r.FunctionARN })
	return arn, items, next, err
}

// versionsOn lists the published versions on a capacity provider, by ARN. Under s.mu.
func (s *Service) versionsOn(cpARN string) []VersionRef {
	var out []VersionRef
	for name, f := range s.fns {
		for n, v := range f.versions {
			if v.Config.LMI != nil && v.Config.LMI.CapacityProviderARN == cpARN {
				out = append(out, VersionRef{s.FunctionARN(name, versionString(n)), v.Config.State})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].FunctionARN < out[j].FunctionARN })
	return out
}

// page returns up to max items after the one whose key is marker.
// Markers are the last key of the previous page, so they survive changes.
func page[T any](items []T, marker string, max, defaultMax int, key func(T) string) ([]T, string, error) {
	if max <= 0 {
		max = defaultMax
	}
	start := 0
	if marker != "" {
		start = sort.Search(len(items), func(i int) bool { return key(items[i]) > marker })
	}
	end := start + max
	if end >= len(items) {
		return items[start:], "", nil
	}
	return items[start:end], key(items[end-1]), nil
}

// cpByARN finds a capacity provider by its ARN. Under s.mu.
func (s *Service) cpByARN(arn string) *CapacityProvider {
	m := cpARNRE.FindStringSubmatch(arn)
	if m == nil {
		return nil
	}
	cp := s.cps[m[5]]
	if cp == nil || !strings.EqualFold(cp.ARN, arn) {
		return nil
	}
	return cp
}
