package lambdaapi

import (
	"bytes"
	"encoding/json"
	"sort"

	"github.com/paddockhq/paddock/internal/awserr"
)

// unsupported lists, per operation, the request members of the model that
// Paddock cannot honour, with why. A request that sets one is refused with
// InvalidParameterValueException (AWS's answer to a value it does not
// support) rather than stored and ignored. Empty values (null, "", [], {},
// or an object of empty values, such as the VpcConfig with empty lists and
// the DeadLetterConfig with an empty TargetArn that Terraform sends to clear
// them) ask for nothing and pass.
var unsupported = map[string]map[string]string{
	"CreateFunction":              functionExtras,
	"UpdateFunctionConfiguration": functionExtras,
	"UpdateFunctionCode": {
		"S3Bucket":        "code from S3 is not supported: upload the zip (ZipFile)",
		"S3Key":           "code from S3 is not supported: upload the zip (ZipFile)",
		"S3ObjectVersion": "code from S3 is not supported: upload the zip (ZipFile)",
		"ImageUri":        "container images are not supported: upload a zip (ZipFile)",
		"SourceKMSKeyArn": "customer managed KMS keys are not supported",
	},
}

var functionExtras = map[string]string{
	"VpcConfig":            "functions do not attach to VPCs on Paddock (a capacity provider's instances carry its network)",
	"DeadLetterConfig":     "dead-letter queues need asynchronous invokes, which Paddock does not have yet",
	"KMSKeyArn":            "customer managed KMS keys are not supported",
	"Layers":               "layers are not supported yet",
	"FileSystemConfigs":    "EFS file systems are not supported",
	"ImageConfig":          "container images are not supported",
	"CodeSigningConfigArn": "code signing configurations are not supported",
	"SnapStart":            "SnapStart is not supported (it is for Java, Python and .NET runtimes)",
	"DurableConfig":        "durable functions are not supported",
	"TenancyConfig":        "tenant isolation mode is not supported",
}

// refuseUnsupported returns the refusal of the first (by name) member of
// body that op cannot honour, or nil.
func refuseUnsupported(op string, body []byte) error {
	members := unsupported[op]
	if len(members) == 0 || len(body) == 0 {
		return nil
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) != nil {
		return nil // decode answers InvalidRequestContentException
	}
	var set []string
	for name, v := range fields {
		if _, ok := members[name]; ok && !emptyJSON(v) && !(name == "SnapStart" && isSnapStartOff(v)) {
			set = append(set, name)
		}
	}
	if len(set) == 0 {
		return nil
	}
	sort.Strings(set)
	return awserr.InvalidParameter("%s is not supported by Paddock: %s.", set[0], members[set[0]])
}

// emptyJSON reports whether v asks for nothing: null, false, 0, "", [],
// {}, or an object whose every member is empty.
func emptyJSON(v json.RawMessage) bool {
	v = bytes.TrimSpace(v)
	switch string(v) {
	case "", "null", "false", "0", `""`, "[]", "{}":
		return true
	}
	if v[0] == '[' {
		var list []json.RawMessage
		return json.Unmarshal(v, &list) == nil && len(list) == 0
	}
	if v[0] != '{' {
		return false
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(v, &obj) != nil {
		return false
	}
	for _, m := range obj {
		if !emptyJSON(m) {
			return false
		}
	}
	return true
}

// isSnapStartOff is SnapStart's default, {"ApplyOn":"None"}, which the
// tools send for every function.
func isSnapStartOff(v json.RawMessage) bool {
	var s struct{ ApplyOn string }
	return json.Unmarshal(v, &s) == nil && (s.ApplyOn == "" || s.ApplyOn == "None")
}
