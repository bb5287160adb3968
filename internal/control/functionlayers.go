package control

import (
	"net/http"

	"github.com/paddockhq/paddock/internal/awserr"
	"github.com/paddockhq/paddock/internal/codezip"
)

// A function's Layers (CreateFunction, UpdateFunctionConfiguration): up to
// five layer versions, extracted in order under /opt. The function's Config
// keeps, for each, the version's ARN and its code's digest and sizes, so
// the function runs the same layers after the version is deleted, as on
// AWS.
//
// Texts, from AWS's answers as LocalStack's snapshot tests recorded them
// (test_lambda_api.snapshot.json, TestLambdaLayer::
// test_layer_function_exceptions and test_layer_function_quota_exception,
// recorded against AWS 2025-11-25): "Cannot reference more than 5
// layers.", "Layers are not in the same region as the function. Layers are
// expected to be in region R.", "Layer version ARN does not exist.", and
// "Two different versions of the same layer are not allowed to be
// referenced in the same function. A and B are versions of the same
// layer." (also for the same version twice), all
// InvalidParameterValueException. The 250 MB limit's text is AWS's as
// users report it ("Function code combined with layers exceeds the maximum
// allowed size of 262144000 bytes. The actual size is N bytes.",
// lambci/git-lambda-layer#27, brefphp/bref#450). A layer of another
// account (Paddock has one) is AccessDeniedException with the text of
// LocalStack's provider, not recorded from AWS. AWS does not refuse a layer
// whose CompatibleRuntimes or CompatibleArchitectures leave out the
// function's (they are for ListLayers' filters), and neither does Paddock.

// MaxFunctionLayers is how many layers a function may reference.
const MaxFunctionLayers = 5

// LayerRef is one layer of a function configuration.
type LayerRef struct {
	ARN          string `json:"arn"`        // the layer version's ARN
	CodeSHA256   string `json:"codeSha256"` // base64, as CodeSha256
	CodeSize     int64  `json:"codeSize"`
	UnzippedSize int64  `json:"unzippedSize"`
}

// LayerCode is the object-store keys (hex SHA-256, as CodeHex gives) of the
// configuration's layers, in the order they are extracted under /opt (each
// over the ones before it); nil when it has none.
func (c *Config) LayerCode() []string {
	if len(c.Layers) == 0 {
		return nil
	}
	out := make([]string, len(c.Layers))
	for i, l := range c.Layers {
		out[i] = CodeHex(l.CodeSHA256)
	}
	return out
}

// resolveLayers turns layer version ARNs into a function's LayerRefs.
// Under s.mu.
func (s *Service) resolveLayers(arns []string) ([]LayerRef, error) {
	return resolveLayerRefs(arns, s.region, s.account, func(name string, n int64) *LayerVersion {
		if l := s.layers[name]; l != nil {
			return l.versions[n]
		}
		return nil
	})
}

// resolveLayerRefs checks a function's layer version ARNs in AWS's order
// (the count, then each in turn: where it is, that it exists, that no
// other version of its layer came before) and looks each up with find
// (a layer of region and account by name and version).
func resolveLayerRefs(arns []string, region, account string, find func(name string, n int64) *LayerVersion) ([]LayerRef, error) {
	if len(arns) > MaxFunctionLayers {
		return nil, awserr.InvalidParameter("Cannot reference more than 5 layers.")
	}
	if len(arns) == 0 {
		return nil, nil
	}
	refs := make([]LayerRef, 0, len(arns))
	seen := map[string]string{} // layer ARN -> the version ARN that named it
	for _, arn := range arns {
		layerARN, n, ok := parseLayerVersionARN(arn)
		m := layerNameRE.FindStringSubmatch(layerARN)
		if !ok || m == nil {
			// awsmodel.Validate refuses these first, in the model's words.
			return nil, awserr.Validation("1 validation error detected: Value '[%s]' at 'layers' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 140, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+, Member must not be null]", arn)
		}
		lregion, laccount, name := m[1], m[2], m[3]
		if laccount != account {
			return nil, &awserr.Error{Code: "AccessDeniedException", Status: http.StatusForbidden,
				Message: "User: arn:aws:iam::" + account + ":root is not authorized to perform: lambda:GetLayerVersion on resource: " + arn +
					" because no resource-based policy allows the lambda:GetLayerVersion action"}
		}
		if lregion != region {
			return nil, awserr.InvalidParameter("Layers are not in the same region as the function. Layers are expected to be in region %s.", region)
		}
		v := find(name, n)
		if v == nil {
			return nil, awserr.InvalidParameter("Layer version %s does not exist.", arn)
		}
		if prev, dup := seen[layerARN]; dup {
			return nil, awserr.InvalidParameter("Two different versions of the same layer are not allowed to be referenced in the same function. %s and %s are versions of the same layer.", prev, arn)
		}
		seen[layerARN] = arn
		refs = append(refs, LayerRef{ARN: arn, CodeSHA256: v.CodeSHA256, CodeSize: v.CodeSize, UnzippedSize: v.UnzippedSize})
	}
	return refs, nil
}

// checkUnzippedTotal holds a function's code and layers, unzipped, to
// Lambda's 250 MB (262144000 bytes).
func checkUnzippedTotal(c Config) error {
	total := c.CodeUnzipped
	for _, l := range c.Layers {
		total += l.UnzippedSize
	}
	if total > codezip.DefaultMaxUnzippedBytes {
		return awserr.InvalidParameter("Function code combined with layers exceeds the maximum allowed size of %d bytes. The actual size is %d bytes.", codezip.DefaultMaxUnzippedBytes, total)
	}
	return nil
}
