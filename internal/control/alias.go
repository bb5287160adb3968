package control

import (
	"context"
	"sort"
	"strconv"

	"github.com/paddockhq/paddock/internal/awserr"
	"github.com/paddockhq/paddock/internal/ids"
)

// AliasInput is a CreateAlias or UpdateAlias request; on update nil means "keep".
type AliasInput struct {
	Name        string
	Version     *string
	Description *string
	Weights     *map[string]float64
	RevisionID  string
}

// AliasARN is the ARN of an alias.
func (s *Service) AliasARN(a *Alias) string { return s.FunctionARN(a.Function, a.Name) }

func (s *Service) validateAlias(f *fnState, a *Alias) error {
	if a.Name == "" || len(a.Name) > 128 || !aliasRE.MatchString(a.Name) || isVersion(a.Name) {
		return awserr.Validation("1 validation error detected: Value '%s' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)", a.Name)
	}
	if a.Version == "" {
		return awserr.InvalidParameter("FunctionVersion is required.")
	}
	if a.Version == Latest && f.fn.Latest.LMI != nil {
		return awserr.InvalidParameter("An alias of a function on a capacity provider must point to a published version or $LATEST.PUBLISHED: $LATEST is not invocable.")
	}
	if a.Version != Latest && a.Version != LatestPublished {
		n, err := strconv.Atoi(a.Version)
		if err != nil || !isVersion(a.Version) {
			return awserr.Validation("1 validation error detected: Value '%s' at 'functionVersion' failed to satisfy constraint: Member must satisfy regular expression pattern: (\\$LATEST(\\.PUBLISHED)?|[0-9]+)", a.Version)
		}
		if f.versions[n] == nil {
			return awserr.NotFound("Function not found: %s", s.FunctionARN(a.Function, a.Version))
		}
	}
	if len(a.Description) > 256 {
		return awserr.Validation("1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 256")
	}
	if len(a.Weights) > 1 {
		return awserr.InvalidParameter("Number of items in AdditionalVersionWeights cannot be greater than 1.")
	}
	for ver, w := range a.Weights {
		n, err := strconv.Atoi(ver)
		if err != nil || f.versions[n] == nil {
			return awserr.InvalidParameter("Version %s in AdditionalVersionWeights does not exist.", ver)
		}
		if ver == a.Version {
			return awserr.InvalidParameter("Alias's primary version and routing config version cannot be the same.")
		}
		if w < 0 || w > 1 {
			return awserr.Validation("1 validation error detected: Value '%v' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Member must have value between 0.0 and 1.0", w)
		}
	}
	return nil
}

// CreateAlias points a new alias at a version.
func (s *Service) CreateAlias(ctx context.Context, function string, in AliasInput) (*Alias, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.function(function)
	if err != nil {
		return nil, err
	}
	a := Alias{Name: in.Name, Function: function}
	if in.Version != nil {
		a.Version = *in.Version
	}
	if in.Description != nil {
		a.Description = *in.Description
	}
	if in.Weights != nil {
		a.Weights = *in.Weights
	}
	if err := s.validateAlias(f, &a); err != nil {
		return nil, err
	}
	if _, ok := f.aliases[a.Name]; ok {
		return nil, awserr.Conflict("Alias already exists: %s", s.AliasARN(&a))
	}
	a.RevisionID = ids.New()
	if err := s.put(ctx, aliasKey(function, a.Name), &a); err != nil {
		return nil, err
	}
	f.aliases[a.Name] = &a
	s.publishRoutes()
	out := a
	return &out, nil
}

func (s *Service) alias(f *fnState, name string) (*Alias, error) {
	a, ok := f.aliases[name]
	if !ok {
		return nil, awserr.NotFound("Alias not found: %s", s.FunctionARN(f.fn.Latest.FunctionName, name))
	}
	return a, nil
}

// GetAlias returns one alias.
func (s *Service) GetAlias(function, name string) (*Alias, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.function(function)
	if err != nil {
		return nil, err
	}
	a, err := s.alias(f, name)
	if err != nil {
		return nil, err
	}
	out := *a
	return &out, nil
}

// UpdateAlias changes what an alias points to.
func (s *Service) UpdateAlias(ctx context.Context, function string, in AliasInput) (*Alias, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.function(function)
	if err != nil {
		return nil, err
	}
	old, err := s.alias(f, in.Name)
	if err != nil {
		return nil, err
	}
	if in.RevisionID != "" && in.RevisionID != old.RevisionID {
		return nil, awserr.RevisionMismatch()
	}
	a := *old
	if in.Version != nil {
		a.Version = *in.Version
	}
	if in.Description != nil {
		a.Description = *in.Description
	}
	if in.Weights != nil {
		a.Weights = *in.Weights
	}
	if err := s.validateAlias(f, &a); err != nil {
		return nil, err
	}
	a.RevisionID = ids.New()
	if err := s.put(ctx, aliasKey(function, a.Name), &a); err != nil {
		return nil, err
	}
	f.aliases[a.Name] = &a
	s.publishRoutes()
	out := a
	return &out, nil
}

// DeleteAlias removes an alias; a missing one is not an error, as in Lambda.
func (s *Service) DeleteAlias(ctx context.Context, function, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.function(function)
	if err != nil {
		return err
	}
	if _, ok := f.aliases[name]; !ok {
		return nil
	}
	if err := s.del(ctx, aliasKey(function, name)); err != nil {
		return err
	}
	delete(f.aliases, name)
	// A new alias of the same name starts without the old one's policy,
	// event invoke config and function URL (AWS deletes an alias's URL
	// with it: test_lambda_url_persists_after_alias_delete, in LocalStack's
	// snapshot tests, sees it gone and the URL answer 403).
	if err := s.dropPolicy(ctx, function, name); err != nil { // policy.go
		return err
	}
	if err := s.dropEventInvokeConfig(ctx, function, name); err != nil { // eventinvoke.go
		return err
	}
	if err := s.dropFunctionURLConfig(ctx, function, name); err != nil { // functionurl.go
		return err
	}
	s.publishRoutes()
	return nil
}

// ListAliases pages through a function's aliases, optionally those of one version.
func (s *Service) ListAliases(function, version, marker string, max int) ([]Alias, string, error) {
	s.mu.Lock()
	f, err := s.function(function)
	if err != nil {
		s.mu.Unlock()
		return nil, "", err
	}
	var out []Alias
	for _, a := range f.aliases {
		if version == "" || a.Version == version {
			out = append(out, *a)
		}
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	if max > 50 {
		max = 50
	}
	return page(out, marker, max, 50, func(a Alias) string { return a.Name })
}
