package control

import (
	"context"
	"encoding/json"
	"maps"

	"regexp"
	"strings"

	"github.com/paddockhq/paddock/internal/awserr"
	"github.com/paddockhq/paddock/internal/store"
)

// Tags of functions and capacity providers (TagResource, UntagResource,
// ListTags).
//
// The tags given at create time live in the resource's own record (fn.NAME,
// cp.NAME). A change through TagResource or UntagResource is written to a
// small record of its own, tags.fn.NAME or tags.cp.NAME, which holds the
// whole tag set and wins over the resource record's tags when Paddock
// loads. In memory the resource's Tags map is the one truth (replaced, never
// mutated, so what GetFunction handed out stays as it was).

// Limits of tags, from AWS's tagging rules for Lambda ("Tag restrictions"
// in the Lambda developer guide): at most 50 tags per resource, keys of 1 to
// 128 Unicode characters, values of at most 256, and the aws: prefix
// reserved. The model (service-2.json) puts no constraint on TagKey or
// TagValue, so these are service rules and AWS answers them with
// InvalidParameterValueException, the operation's documented error, not
// with the ValidationException of model constraints.
const (
	MaxTags        = 50
	MaxTagKeyLen   = 128
	MaxTagValueLen = 256
)

// taggableResourceRE is TaggableResource of the model, anchored.
var taggableResourceRE = regexp.MustCompile(`^arn:(aws[a-zA-Z-]*):lambda:[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:(function:[a-zA-Z0-9-_]+(:(\$LATEST|[a-zA-Z0-9-_]+))?|code-signing-config:csc-[a-z0-9]{17}|event-source-mapping:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|capacity-provider:[a-zA-Z0-9-_]+)$`)

const taggableResourcePattern = `arn:(aws[a-zA-Z-]*):lambda:[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:(function:[a-zA-Z0-9-_]+(:(\$LATEST|[a-zA-Z0-9-_]+))?|code-signing-config:csc-[a-z0-9]{17}|event-source-mapping:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|capacity-provider:[a-zA-Z0-9-_]+)`

// validationError is ValidationException (400): a request that breaks a
// constraint of the model, in AWS's "1 validation error detected" text.
func validationError(value, field, constraint string) *awserr.Error {
	return awserr.Validation("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: %s", value, field, constraint)
}

// TaggedResource is a resource ARN taken apart.
type TaggedResource struct {
	Kind string // "function" or "capacity-provider"
	Name string
}

// ParseTaggableResource checks a Resource of the tag operations: the
// model's pattern and length (ValidationException), then what Paddock can
// tag. AWS does not tag versions or aliases.
func ParseTaggableResource(arn string) (TaggedResource, error) {
	if len(arn) < 1 || len(arn) > 256 {
		return TaggedResource{}, validationError(arn, "resource", "Member must have length less than or equal to 256")
	}
	if !taggableResourceRE.MatchString(arn) {
		return TaggedResource{}, validationError(arn, "resource", "Member must satisfy regular expression pattern: "+taggableResourcePattern)
	}
	parts := strings.SplitN(arn, ":", 8) // arn aws lambda region account kind name [qualifier]
	switch parts[5] {
	case "function":
		if len(parts) == 8 {
			return TaggedResource{}, awserr.InvalidParameter("Tags on function aliases and versions are not supported. Please specify a function ARN.")
		}
		return TaggedResource{Kind: "function", Name: parts[6]}, nil
	case "capacity-provider":
		return TaggedResource{Kind: "capacity-provider", Name: parts[6]}, nil
	}
	return TaggedResource{}, awserr.NotFound("The resource you requested does not exist.")
}

// ValidateTags checks a tag set against Lambda's tag rules (see MaxTags).
func ValidateTags(tags map[string]string) error {
	for k, v := range tags {
		if err := validateTagKey(k); err != nil {
			return err
		}
		if n := len([]rune(v)); n > MaxTagValueLen {
			return awserr.InvalidParameter("Tag value must be no longer than %d characters. Value: %s", MaxTagValueLen, v)
		}
	}
	if len(tags) > MaxTags {
		return awserr.InvalidParameter("Number of tags exceeds resource tag limit of %d.", MaxTags)
	}
	return nil
}

func validateTagKey(k string) error {
	if n := len([]rune(k)); n < 1 || n > MaxTagKeyLen {
		return awserr.InvalidParameter("Tag key must be between 1 and %d characters long. Key: %s", MaxTagKeyLen, k)
	}
	if strings.HasPrefix(strings.ToLower(k), "aws:") {
		return awserr.InvalidParameter("Tag keys starting with 'aws:' are reserved for internal use. Key: %s", k)
	}
	return nil
}

// tagRecord is the durable tag set of one resource.
type tagRecord struct {
	ARN  string            `json:"arn"`
	Tags map[string]string `json:"tags"`
}

func tagKey(r TaggedResource) string {
	if r.Kind == "function" {
		return "tags.fn." + r.Name
	}
	return "tags.cp." + r.Name
}

// tagsOf returns the current tags of r and the ARN that names it. Under s.mu.
func (s *Service) tagsOf(r TaggedResource, arn string) (map[string]string, error) {
	switch r.Kind {
	case "function":
		f, ok := s.fns[r.Name]
		if !ok || arn != s.FunctionARN(r.Name, "") {
			return nil, awserr.NotFound("Function not found: %s", arn)
		}
		return f.fn.Tags, nil
	default:
		cp, ok := s.cps[r.Name]
		if !ok || arn != s.capacityProviderARN(r.Name) {
			return nil, awserr.NotFound("Capacity provider not found: %s", arn)
		}
		return cp.Tags, nil
	}
}

// setTags stores and installs a resource's new tag set. Under s.mu.
func (s *Service) setTags(ctx context.Context, r TaggedResource, arn string, tags map[string]string) error {
	if err := s.put(ctx, tagKey(r), &tagRecord{ARN: arn, Tags: tags}); err != nil {
		return err
	}
	s.installTags(r, tags)
	return nil
}

func (s *Service) installTags(r TaggedResource, tags map[string]string) {
	switch r.Kind {
	case "function":
		if f := s.fns[r.Name]; f != nil {
			f.fn.Tags = tags
			s.publishRoutes() // paddock:overflow is a tag
		}
	default:
		if cp := s.cps[r.Name]; cp != nil {
			next := *cp
			next.Tags = tags
			s.cps[r.Name] = &next
		}
	}
}

// TagResource adds or replaces tags of a function or capacity provider.
func (s *Service) TagResource(ctx context.Context, arn string, tags map[string]string) error {
	r, err := ParseTaggableResource(arn)
	if err != nil {
		return err
	}
	if len(tags) == 0 {
		return awserr.InvalidParameter("A list of tags is required.")
	}
	if err := ValidateTags(tags); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, err := s.tagsOf(r, arn)
	if err != nil {
		return err
	}
	next := maps.Clone(cur)
	if next == nil {
		next = map[string]string{}
	}
	maps.Copy(next, tags)
	if len(next) > MaxTags {
		return awserr.InvalidParameter("Number of tags exceeds resource tag limit of %d.", MaxTags)
	}
	return s.setTags(ctx, r, arn, next)
}

// UntagResource removes tags by key; keys the resource does not have are
// ignored, as on AWS.
func (s *Service) UntagResource(ctx context.Context, arn string, keys []string) error {
	r, err := ParseTaggableResource(arn)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		return awserr.InvalidParameter("A list of tag keys is required.")
	}
	for _, k := range keys {
		if err := validateTagKey(k); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, err := s.tagsOf(r, arn)
	if err != nil {
		return err
	}
	next := maps.Clone(cur)
	for _, k := range keys {
		delete(next, k)
	}
	return s.setTags(ctx, r, arn, next)
}

// ListTags returns the tags of a function or capacity provider (a copy).
func (s *Service) ListTags(arn string) (map[string]string, error) {
	r, err := ParseTaggableResource(arn)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, err := s.tagsOf(r, arn)
	if err != nil {
		return nil, err
	}
	out := maps.Clone(cur)
	if out == nil {
		out = map[string]string{}
	}
	return out, nil
}

// loadTags applies the tags.* records over the resources' own tags. Called
// from load, after the resources are in memory.
func (s *Service) loadTags(entries []store.Entry) error {
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Key, "tags.")
		if !ok {
			continue
		}
		kind, name, _ := strings.Cut(rest, ".")
		var rec tagRecord
		if err := json.Unmarshal(e.Value, &rec); err != nil {
			return err
		}
		r := TaggedResource{Name: name, Kind: "function"}
		if kind == "cp" {
			r.Kind = "capacity-provider"
		}
		s.installTags(r, rec.Tags)
	}
	return nil
}

// dropTags forgets the tag record of a deleted resource. Under s.mu.
func (s *Service) dropTags(ctx context.Context, kind, name string) error {
	return s.del(ctx, tagKey(TaggedResource{Kind: kind, Name: name}))
}
