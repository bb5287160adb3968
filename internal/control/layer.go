package control

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/paddockhq/paddock/internal/awserr"
	"github.com/paddockhq/paddock/internal/store"
)

// Lambda layers (PublishLayerVersion, GetLayerVersion, GetLayerVersionByArn,
// ListLayers, ListLayerVersions, DeleteLayerVersion).
//
// A layer is a name with numbered versions; each version is a zip, kept in
// the object store by its SHA-256 as function code is (and checked by
// codezip as function code is), and a record layerver.NAME.N of the
// replicated configuration. A record layer.NAME keeps the layer's last
// version number for good: as on AWS, a deleted version's number is never
// given again, even once every version is gone (LocalStack's
// test_layer_lifecycle, recorded against AWS 2025-11-25: versions 1 and 2
// deleted, the next publish is 3). A function keeps the layer versions it
// was given (their ARN and code digest are in its Config), so deleting a
// layer version a function uses changes nothing for that function (the
// same recording: GetFunctionConfiguration still lists it).
//
// Texts, from AWS's answers as LocalStack's snapshot tests recorded them
// (tests/aws/services/lambda_/test_lambda_api.snapshot.json,
// TestLambdaLayer, recorded 2025-11-25 and 2026-01-12):
//   - a layer or version that does not exist: ResourceNotFoundException
//     "The resource you requested does not exist." (GetLayerVersion,
//     GetLayerVersionByArn);
//   - VersionNumber below 1: InvalidParameterValueException "Layer Version
//     Cannot be less than 1" (GetLayerVersion, DeleteLayerVersion);
//   - ListLayerVersions of a layer that does not exist answers an empty
//     list, and DeleteLayerVersion of one that does not exist 204.
//
// Not confirmed: the answer for a layer ARN of another region or account
// as LayerName (Paddock treats it as a layer that does not exist there),
// for a non-numeric VersionNumber, and how AWS pages (its markers are
// opaque; Paddock's are the last version number or layer name given).

// LayerVersion is one published version of a layer.
type LayerVersion struct {
	Name         string    `json:"name"`
	Version      int64     `json:"version"`
	Description  string    `json:"description,omitempty"`
	LicenseInfo  string    `json:"licenseInfo,omitempty"`
	Runtimes     []string  `json:"runtimes"`      // CompatibleRuntimes; nil: never given, [] given empty (AWS answers each as given)
	Archs        []string  `json:"architectures"` // CompatibleArchitectures, likewise
	CodeSHA256   string    `json:"codeSha256"`    // base64, as CodeSha256
	CodeSize     int64     `json:"codeSize"`
	UnzippedSize int64     `json:"unzippedSize"`
	Created      time.Time `json:"created"`

	// The layer version's resource policy (layerpolicy.go).
	Statements     []policyStatement `json:"statements,omitempty"`
	PolicyRevision string            `json:"policyRevision,omitempty"`
}

// layerRecord is what a layer keeps across its versions.
type layerRecord struct {
	Name        string `json:"name"`
	LastVersion int64  `json:"lastVersion"`
}

// layerState is a layer in memory: its record and its live versions.
type layerState struct {
	rec      layerRecord
	versions map[int64]*LayerVersion
}

func layerKey(name string) string { return "layer." + name }
func layerVersionKey(name string, n int64) string {
	return "layerver." + name + "." + strconv.FormatInt(n, 10)
}

// LayerARN is the ARN of a layer; with a version above 0, of that version.
func (s *Service) LayerARN(name string, version int64) string {
	arn := "arn:aws:lambda:" + s.region + ":" + s.account + ":layer:" + name
	if version > 0 {
		arn += ":" + strconv.FormatInt(version, 10)
	}
	return arn
}

// layerNameRE is the model's LayerName pattern, its ARN part split.
var layerNameRE = regexp.MustCompile(`^arn:[a-zA-Z0-9-]+:lambda:([a-zA-Z0-9-]+):(\d{12}):layer:([a-zA-Z0-9-_]+)$`)

// layerID is a LayerName parameter: a name, or a layer ARN and where it is.
type layerID struct {
	name, region, account string
}

// parseLayerName reads a LayerName (the model's pattern, which
// awsmodel.Validate has checked, admits a name or a layer ARN).
func (s *Service) parseLayerName(v string) layerID {
	if m := layerNameRE.FindStringSubmatch(v); m != nil {
		return layerID{name: m[3], region: m[1], account: m[2]}
	}
	return layerID{name: v, region: s.region, account: s.account}
}

// layer finds a layer of this region and account. Under s.mu.
func (s *Service) layer(id layerID) *layerState {
	if id.region != s.region || id.account != s.account {
		return nil
	}
	return s.layers[id.name]
}

// layerVersion finds a live layer version. Under s.mu.
func (s *Service) layerVersion(id layerID, n int64) *LayerVersion {
	if l := s.layer(id); l != nil {
		return l.versions[n]
	}
	return nil
}

// PublishLayerInput is a PublishLayerVersion request in domain terms.
type PublishLayerInput struct {
	LayerName   string
	Zip         []byte
	Description string
	LicenseInfo string
	Runtimes    []string
	Archs       []string
}

// PublishLayerVersion stores a zip as the next version of a layer, which it
// creates on first use.
func (s *Service) PublishLayerVersion(ctx context.Context, in PublishLayerInput) (*LayerVersion, error) {
	id := s.parseLayerName(in.LayerName)
	if id.region != s.region || id.account != s.account {
		// Not confirmed: AWS's answer for publishing to another region's or account's layer.
		return nil, awserr.NotFound("The resource you requested does not exist.")
	}
	if len(in.Zip) == 0 {
		// Paddock's text: S3 content is refused before this (lambdaapi).
		return nil, awserr.InvalidParameter("Content.ZipFile is required: Paddock takes layer content as a zip upload (S3 locations are not supported).")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	code, err := s.storeCode(ctx, in.Zip, "PublishLayerVersion")
	if err != nil {
		return nil, err
	}
	l := s.layers[id.name]
	rec := layerRecord{Name: id.name}
	if l != nil {
		rec = l.rec
	}
	rec.LastVersion++
	v := &LayerVersion{
		Name: id.name, Version: rec.LastVersion, Description: in.Description, LicenseInfo: in.LicenseInfo,
		Runtimes: in.Runtimes, Archs: in.Archs,
		CodeSHA256: code.sha, CodeSize: code.size, UnzippedSize: code.unzipped, Created: now(),
	}
	// The layer's counter first: a stop between the two writes skips a
	// number, never gives one twice.
	if err := s.put(ctx, layerKey(id.name), &rec); err != nil {
		return nil, err
	}
	if err := s.put(ctx, layerVersionKey(id.name, v.Version), v); err != nil {
		return nil, err
	}
	if l == nil {
		l = &layerState{versions: map[int64]*LayerVersion{}}
		if s.layers == nil {
			s.layers = map[string]*layerState{}
		}
		s.layers[id.name] = l
	}
	l.rec = rec
	l.versions[v.Version] = v
	out := *v
	return &out, nil
}

// checkLayerVersionNumber refuses version numbers below 1, as AWS does
// before it looks for the layer.
func checkLayerVersionNumber(n int64) error {
	if n < 1 {
		return awserr.InvalidParameter("Layer Version Cannot be less than 1")
	}
	return nil
}

// GetLayerVersion returns a layer version (layerName: a name or a layer ARN).
func (s *Service) GetLayerVersion(layerName string, n int64) (*LayerVersion, error) {
	if err := checkLayerVersionNumber(n); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.layerVersion(s.parseLayerName(layerName), n)
	if v == nil {
		return nil, awserr.NotFound("The resource you requested does not exist.")
	}
	out := *v
	return &out, nil
}

// layerVersionARNRE is the model's LayerVersionArn pattern, its parts split.
var layerVersionARNRE = regexp.MustCompile(`^(arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:[a-zA-Z0-9-_]+):([0-9]+)$`)

// parseLayerVersionARN splits a layer version ARN into its layer and
// version; ok is false when arn is not one.
func parseLayerVersionARN(arn string) (layerARN string, n int64, ok bool) {
	m := layerVersionARNRE.FindStringSubmatch(arn)
	if m == nil {
		return "", 0, false
	}
	n, err := strconv.ParseInt(m[2], 10, 64)
	return m[1], n, err == nil
}

// GetLayerVersionByArn returns the layer version an ARN names.
func (s *Service) GetLayerVersionByArn(arn string) (*LayerVersion, error) {
	layerARN, n, ok := parseLayerVersionARN(arn)
	if !ok {
		// awsmodel.Validate refuses these first; this is its text.
		return nil, validationError(arn, "arn", "Member must satisfy regular expression pattern: arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.layerVersion(s.parseLayerName(layerARN), n)
	if v == nil {
		return nil, awserr.NotFound("The resource you requested does not exist.")
	}
	out := *v
	return &out, nil
}

// LayerFilter is ListLayers' and ListLayerVersions' CompatibleRuntime and
// CompatibleArchitecture: a version matches when it lists each one given.
type LayerFilter struct {
	Runtime, Arch string
}

func (f LayerFilter) matches(v *LayerVersion) bool {
	return (f.Runtime == "" || slices.Contains(v.Runtimes, f.Runtime)) &&
		(f.Arch == "" || slices.Contains(v.Archs, f.Arch))
}

// MaxLayerListItems is the model's bound on a page of layers or versions.
const MaxLayerListItems = 50

// ListLayerVersions pages through a layer's versions that match f, newest
// first. A layer that does not exist has none.
func (s *Service) ListLayerVersions(layerName string, f LayerFilter, marker string, max int) ([]LayerVersion, string, error) {
	s.mu.Lock()
	var out []LayerVersion
	if l := s.layer(s.parseLayerName(layerName)); l != nil {
		for _, v := range l.versions {
			if f.matches(v) {
				out = append(out, *v)
			}
		}
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Version > out[j].Version })
	start := 0
	if marker != "" {
		after, err := strconv.ParseInt(marker, 10, 64)
		if err != nil {
			return nil, "", nil // not a marker Paddock gave: nothing follows it
		}
		start = sort.Search(len(out), func(i int) bool { return out[i].Version < after })
	}
	return pageFrom(out, start, max, func(v LayerVersion) string { return strconv.FormatInt(v.Version, 10) })
}

// LayerListItem is one layer of ListLayers: its newest version that matches.
type LayerListItem struct {
	Name   string
	Latest LayerVersion
}

// ListLayers pages through the layers that have a version matching f, by
// name, each with its newest matching version.
func (s *Service) ListLayers(f LayerFilter, marker string, max int) ([]LayerListItem, string, error) {
	s.mu.Lock()
	var out []LayerListItem
	for name, l := range s.layers {
		var latest *LayerVersion
		for _, v := range l.versions {
			if f.matches(v) && (latest == nil || v.Version > latest.Version) {
				latest = v
			}
		}
		if latest != nil {
			out = append(out, LayerListItem{Name: name, Latest: *latest})
		}
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	start := 0
	if marker != "" {
		start = sort.Search(len(out), func(i int) bool { return out[i].Name > marker })
	}
	return pageFrom(out, start, max, func(it LayerListItem) string { return it.Name })
}

// pageFrom is the page of at most max items (MaxLayerListItems when 0)
// from start, and the marker of its last item when more follow.
func pageFrom[T any](items []T, start, max int, key func(T) string) ([]T, string, error) {
	if max <= 0 || max > MaxLayerListItems {
		max = MaxLayerListItems
	}
	end := start + max
	if end >= len(items) {
		return items[start:], "", nil
	}
	return items[start:end], key(items[end-1]), nil
}

// DeleteLayerVersion deletes a layer version. Deleting one that does not
// exist succeeds, as on AWS; functions that use it keep their copy.
func (s *Service) DeleteLayerVersion(ctx context.Context, layerName string, n int64) error {
	if err := checkLayerVersionNumber(n); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.parseLayerName(layerName)
	l := s.layer(id)
	if l == nil || l.versions[n] == nil {
		return nil
	}
	if err := s.del(ctx, layerVersionKey(id.name, n)); err != nil {
		return err
	}
	delete(l.versions, n)
	return nil
}

// loadLayers reads the layer.* and layerver.* records. Called from load.
func (s *Service) loadLayers(entries []store.Entry) error {
	layers := map[string]*layerState{}
	get := func(name string) *layerState {
		l := layers[name]
		if l == nil {
			l = &layerState{rec: layerRecord{Name: name}, versions: map[int64]*LayerVersion{}}
			layers[name] = l
		}
		return l
	}
	for _, e := range entries {
		switch {
		case strings.HasPrefix(e.Key, "layer."):
			var rec layerRecord
			if err := json.Unmarshal(e.Value, &rec); err != nil {
				return err
			}
			l := get(rec.Name)
			l.rec.LastVersion = max(l.rec.LastVersion, rec.LastVersion)
		case strings.HasPrefix(e.Key, "layerver."):
			var v LayerVersion
			if err := json.Unmarshal(e.Value, &v); err != nil {
				return err
			}
			l := get(v.Name)
			l.versions[v.Version] = &v
			l.rec.LastVersion = max(l.rec.LastVersion, v.Version)
		}
	}
	s.layers = layers
	return nil
}
