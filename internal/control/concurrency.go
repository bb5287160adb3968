package control

import (
	"context"
	"sort"
	"time"

	"github.com/paddockhq/paddock/internal/awserr"
)

// DefaultAccountConcurrency is Lambda's default concurrent executions per
// account and region.
const DefaultAccountConcurrency = 1000

// minUnreserved is what reserved concurrency must leave to the other
// functions, as Lambda keeps 100 unreserved.
const minUnreserved = 100

// AccountConcurrency is the account's concurrency limit.
func (s *Service) AccountConcurrency() int { return s.accountLimit }

// reservedTotal sums reserved concurrency, leaving out one function. Under s.mu.
func (s *Service) reservedTotal(except string) int {
	n := 0
	for name, f := range s.fns {
		if name != except && f.fn.Reserved != nil {
			n += *f.fn.Reserved
		}
	}
	return n
}

// PutFunctionConcurrency reserves concurrency for a function (0 disables it).
func (s *Service) PutFunctionConcurrency(ctx context.Context, function string, reserved int) (int, error) {
	if reserved < 0 {
		return 0, awserr.Validation("1 validation error detected: Value '%d' at 'reservedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 0", reserved)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.function(function)
	if err != nil {
		return 0, err
	}
	if s.accountLimit-s.reservedTotal(function)-reserved < minUnreserved {
		return 0, awserr.InvalidParameter("Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [%d].", minUnreserved)
	}
	next := f.fn
	next.Reserved = &reserved
	if err := s.put(ctx, fnKey(function), &next); err != nil {
		return 0, err
	}
	f.fn = next
	s.publishRoutes()
	return reserved, nil
}

// GetFunctionConcurrency returns the reserved concurrency, or nil.
func (s *Service) GetFunctionConcurrency(function string) (*int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.function(function)
	if err != nil {
		return nil, err
	}
	return f.fn.Reserved, nil
}

// DeleteFunctionConcurrency removes the reservation.
func (s *Service) DeleteFunctionConcurrency(ctx context.Context, function string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.function(function)
	if err != nil {
		return err
	}
	next := f.fn
	next.Reserved = nil
	if err := s.put(ctx, fnKey(function), &next); err != nil {
		return err
	}
	f.fn = next
	s.publishRoutes()
	return nil
}

// AccountSettings is what GetAccountSettings reports.
type AccountSettings struct {
	ConcurrentExecutions, UnreservedConcurrentExecutions int
	TotalCodeSize, FunctionCount                         int64
}

// GetAccountSettings reports the account's limits and usage.
func (s *Service) GetAccountSettings() AccountSettings {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := AccountSettings{ConcurrentExecutions: s.accountLimit, UnreservedConcurrentExecutions: s.accountLimit - s.reservedTotal(""),
		FunctionCount: int64(len(s.fns))}
	seen := map[string]bool{}
	for _, f := range s.fns {
		for _, c := range append([]Config{f.fn.Latest}, versionConfigs(f)...) {
			if !seen[c.CodeSHA256] {
				seen[c.CodeSHA256] = true
				out.TotalCodeSize += c.CodeSize
			}
		}
	}
	return out
}

func versionConfigs(f *fnState) []Config {
	out := make([]Config, 0, len(f.versions))
	for _, v := range f.versions {
		out = append(out, v.Config)
	}
	return out
}

// Provisioned is a provisioned-concurrency config on a version or alias.
type Provisioned struct {
	Function     string    `json:"function"`
	Qualifier    string    `json:"qualifier"`
	Requested    int       `json:"requested"`
	LastModified time.Time `json:"lastModified"`
	// Allocated and Status are live state, kept by the on-demand pool.
	Allocated int    `json:"-"`
	Status    string `json:"-"` // IN_PROGRESS | READY | FAILED
	Reason    string `json:"-"`
}

func pcKey(function, qualifier string) string { return "pc." + function + "." + qualifier }

// PutProvisionedConcurrencyConfig keeps EEs warm for a version or alias.
func (s *Service) PutProvisionedConcurrencyConfig(ctx context.Context, function, qualifier string, n int) (*Provisioned, error) {
	if n < 1 {
		return nil, awserr.Validation("1 validation error detected: Value '%d' at 'provisionedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 1", n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.function(function)
	if err != nil {
		return nil, err
	}
	if f.fn.Latest.LMI != nil {
		return nil, awserr.InvalidParameter("Provisioned concurrency is for functions in Lambda's default mode; a function on a capacity provider keeps its minimum EEs warm instead (PutFunctionScalingConfig).")
	}
	if qualifier == "" || qualifier == Latest || qualifier == LatestPublished {
		return nil, awserr.InvalidParameter("Provisioned Concurrency Configs cannot be applied to unpublished function versions.")
	}
	if _, err := s.configAt(f, qualifier); err != nil {
		return nil, err
	}
	if f.fn.Reserved != nil && n > *f.fn.Reserved {
		return nil, awserr.InvalidParameter("Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function.")
	}
	if n > s.accountLimit-minUnreserved {
		return nil, awserr.InvalidParameter("Requested Provisioned Concurrency exceeds the account's unreserved concurrency.")
	}
	p := &Provisioned{Function: function, Qualifier: qualifier, Requested: n, LastModified: now(), Status: "IN_PROGRESS"}
	if old := f.provisioned[qualifier]; old != nil {
		p.Allocated = old.Allocated
	}
	if err := s.put(ctx, pcKey(function, qualifier), p); err != nil {
		return nil, err
	}
	f.provisioned[qualifier] = p
	s.notify()
	out := *p
	return &out, nil
}

// GetProvisionedConcurrencyConfig returns one config.
func (s *Service) GetProvisionedConcurrencyConfig(function, qualifier string) (*Provisioned, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.function(function)
	if err != nil {
		return nil, err
	}
	p := f.provisioned[qualifier]
	if p == nil {
		return nil, &awserr.Error{Code: "ProvisionedConcurrencyConfigNotFoundException", Status: 404, Type: "User",
			Message: "No Provisioned Concurrency Config found for this function"}
	}
	out := *p
	return &out, nil
}

// DeleteProvisionedConcurrencyConfig removes one config; its EEs become ordinary.
func (s *Service) DeleteProvisionedConcurrencyConfig(ctx context.Context, function, qualifier string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.function(function)
	if err != nil {
		return err
	}
	if f.provisioned[qualifier] == nil {
		return nil
	}
	if err := s.del(ctx, pcKey(function, qualifier)); err != nil {
		return err
	}
	delete(f.provisioned, qualifier)
	s.notify()
	return nil
}

// ListProvisionedConcurrencyConfigs lists a function's configs by qualifier.
func (s *Service) ListProvisionedConcurrencyConfigs(function, marker string, max int) ([]Provisioned, string, error) {
	s.mu.Lock()
	f, err := s.function(function)
	if err != nil {
		s.mu.Unlock()
		return nil, "", err
	}
	var out []Provisioned
	for _, p := range f.provisioned {
		out = append(out, *p)
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Qualifier < out[j].Qualifier })
	return page(out, marker, max, 50, func(p Provisioned) string { return p.Qualifier })
}

// ProvisionedTarget is one config resolved to the version it keeps warm.
type ProvisionedTarget struct {
	Provisioned
	Route *Route
}

// ProvisionedTargets lists every provisioned-concurrency config with the
// route of the version it applies to (an alias resolves to its version).
func (s *Service) ProvisionedTargets() []ProvisionedTarget {
	s.mu.Lock()
	var all []Provisioned
	for _, f := range s.fns {
		for _, p := range f.provisioned {
			all = append(all, *p)
		}
	}
	s.mu.Unlock()
	var out []ProvisionedTarget
	for _, p := range all {
		r, err := s.Resolve(p.Function, p.Qualifier)
		if err != nil || r == nil {
			continue
		}
		out = append(out, ProvisionedTarget{Provisioned: p, Route: r})
	}
	return out
}

// SetProvisionedStatus records how many EEs a config has warm.
func (s *Service) SetProvisionedStatus(function, qualifier string, allocated int, status, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.fns[function]; f != nil {
		if p := f.provisioned[qualifier]; p != nil {
			p.Allocated, p.Status, p.Reason = allocated, status, reason
		}
	}
}
