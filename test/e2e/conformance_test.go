package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/paddockhq/paddock/internal/lambdaapi"
)

// wireCase is one request of the conformance suite and what AWS answers
// to it: the status, the error code (X-Amzn-ErrorType), the error body's
// shape (which key holds the message, and whether Type is there), and
// checks on the answer's JSON. Each case says where its answer comes from.
type wireCase struct {
	op       string // the model's operation the request is for ("" for none)
	name     string
	method   string
	path     string
	body     string
	unsigned bool
	status   int
	code     string   // "" for a success
	msgKey   string   // "Message" or "message": the model's member name for the exception
	typed    bool     // the body has "Type":"User" (the model's exceptions do; front-end errors do not)
	msg      string   // regexp the message must match
	want     []string // "a.b=v" equals, "a.b~re" matches, "a.b" present, "!a.b" absent
	settle   string   // a function to wait for (function-updated-v2) after the case
	source   string
}

// TestConformance replays the suite against a Paddock on loopback, signing
// with the SDK's SigV4 signer and reading the raw answers, so that the keys
// and codes are checked as any client (boto3, the CLI, Terraform) sees
// them. It grows with every API change; TestConformanceCoversEveryOperation
// keeps one case per operation the API serves.
func TestConformance(t *testing.T) {
	e := start(t)
	c := ctx(t)
	cp := e.capacityProvider("cp-conf")
	e.function("conf-lmi", cp, fnOpts{})
	dm := createInput(t, "conf-dm", "", fnOpts{})
	dm.CapacityProviderConfig, dm.MemorySize = nil, aws.Int32(256)
	dm.Environment = &types.Environment{Variables: map[string]string{}}
	if _, err := e.lambda.CreateFunction(c, dm); err != nil {
		t.Fatal(err)
	}
	e.settled("conf-dm")
	if _, err := e.lambda.PublishVersion(c, &lambda.PublishVersionInput{FunctionName: aws.String("conf-dm")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.lambda.PutFunctionConcurrency(c, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("conf-dm"), ReservedConcurrentExecutions: aws.Int32(5)}); err != nil {
		t.Fatal(err)
	}
	_ = cp
	for _, tc := range conformanceCases(t) {
		t.Run(tc.name, func(t *testing.T) { e.checkWire(t, tc) })
		if tc.settle != "" {
			e.settled(tc.settle)
		}
	}
}

// conformanceCases is the suite, in order: a case may change what later
// ones see (the last ones delete). It runs against TestConformance's
// fixture: capacity provider cp-conf, LMI function conf-lmi on it (nothing
// published), default-mode function conf-dm (version 1, an empty
// Environment, reserved concurrency 5).
func conformanceCases(t testing.TB) []wireCase {
	zip := base64.StdEncoding.EncodeToString(exampleZip(t, "echo"))
	const acct = "000000000000"
	fnARN := "arn:aws:lambda:us-east-1:" + acct + ":function:conf-dm"
	cpARN := "arn:aws:lambda:us-east-1:" + acct + ":capacity-provider:cp-conf"
	create := func(extra string) string {
		return `{"FunctionName":"conf-new","Runtime":"provided.al2023","Handler":"bootstrap","Role":"` + roleARN + `","Code":{"ZipFile":"` + zip + `"}` + extra + `}`
	}
	onCP := `,"MemorySize":2048,"CapacityProviderConfig":{"LambdaManagedInstancesCapacityProviderConfig":{"CapacityProviderArn":"` + cpARN + `"}}`

	const (
		model = "the Lambda model (botocore 1.43.11): the exception's members, the operation's URI"
		recV  = "AWS's ValidationException texts as recorded in public issues (see internal/awsmodel's tests)"
		eic   = "AWS's answers as LocalStack's snapshot tests recorded them (TestLambdaEventInvokeConfig)"
		esm   = "AWS's answers as LocalStack's snapshot tests recorded them (TestLambdaEventSourceMappings)"
		furl  = "AWS's answers as LocalStack's snapshot tests recorded them (TestLambdaUrl, TestLambdaURL)"
		lay   = "AWS's answers as LocalStack's snapshot tests recorded them (TestLambdaLayer)"
	)
	layerARN := "arn:aws:lambda:us-east-1:" + acct + ":layer:conf-lib"
	return []wireCase{
		// Authentication comes before routing.
		{name: "unsigned ListFunctions with the model's old trailing slash", method: "GET", path: "/2015-03-31/functions/", unsigned: true,
			status: 403, code: "MissingAuthenticationTokenException", msgKey: "message", source: "AWS authenticates before it routes"},
		{name: "unsigned request for no operation", method: "GET", path: "/2015-03-31/nothing-here", unsigned: true,
			status: 403, code: "MissingAuthenticationTokenException", msgKey: "message", source: "AWS authenticates before it routes"},
		{op: "ListFunctions", name: "signed ListFunctions with a trailing slash", method: "GET", path: "/2015-03-31/functions/",
			status: 200, want: []string{"Functions"}, source: "SDKs that keep the older model's URI"},
		{op: "ListFunctions", name: "ListFunctions", method: "GET", path: "/2015-03-31/functions?MaxItems=50",
			status: 200, want: []string{"Functions.0.FunctionName", "Functions.0.SnapStart.ApplyOn=None"}, source: model},
		{name: "signed request for no operation", method: "GET", path: "/2015-03-31/nothing-here",
			status: 404, code: "UnknownOperationException", msgKey: "message", source: "AWS's answer to a path no operation has"},

		// Error bodies: the message under the model's key, Type only on the model's exceptions.
		{op: "GetFunction", name: "missing function", method: "GET", path: "/2015-03-31/functions/nope",
			status: 404, code: "ResourceNotFoundException", msgKey: "Message", typed: true,
			msg: `^Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope$`, source: model},
		{op: "Invoke", name: "unqualified invoke of an LMI function with nothing published to $LATEST.PUBLISHED", method: "POST",
			path: "/2015-03-31/functions/conf-lmi/invocations", body: `{}`,
			status: 400, code: "NoPublishedVersionException", msgKey: "Message", typed: true, source: model},
		{op: "CreateFunction", name: "a role that is not an IAM role ARN", method: "POST", path: "/2015-03-31/functions",
			body:   `{"FunctionName":"conf-new","Runtime":"provided.al2023","Role":"bad","Code":{"ZipFile":"` + zip + `"}}`,
			status: 400, code: "ValidationException", msgKey: "message",
			msg: `^1 validation error detected: Value 'bad' at 'role' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:\(aws\[a-zA-Z-\]\*\)\?:iam::\\d\{12\}:role/\?\[a-zA-Z_0-9\+=,\.@\\-_/\]\+$`, source: recV},
		{op: "CreateFunction", name: "an uppercase architecture", method: "POST", path: "/2015-03-31/functions", body: create(`,"Architectures":["X86_64"]`),
			status: 400, code: "ValidationException", msgKey: "message",
			msg: `^1 validation error detected: Value '\[X86_64\]' at 'architectures' failed to satisfy constraint: Member must satisfy constraint: \[Member must satisfy enum value set: \[x86_64, arm64\], Member must not be null\]$`, source: recV},
		{op: "CreateFunction", name: "memory below the model's minimum", method: "POST", path: "/2015-03-31/functions", body: create(`,"MemorySize":64`),
			status: 400, code: "ValidationException", msgKey: "message",
			msg: `^1 validation error detected: Value '64' at 'memorySize' failed to satisfy constraint: Member must have value greater than or equal to 128$`, source: recV},
		{op: "CreateFunction", name: "default-mode memory within the model but over Lambda's 10240", method: "POST", path: "/2015-03-31/functions", body: create(`,"MemorySize":20000`),
			status: 400, code: "InvalidParameterValueException", msgKey: "message", typed: true,
			msg: `^'MemorySize' value failed to satisfy constraint: Member must have value less than or equal to 10240$`, source: "AWS's text, recorded in public deploy logs"},
		{op: "CreateFunction", name: "a capacity provider that does not exist", method: "POST", path: "/2015-03-31/functions",
			body:   create(`,"MemorySize":2048,"CapacityProviderConfig":{"LambdaManagedInstancesCapacityProviderConfig":{"CapacityProviderArn":"arn:aws:lambda:us-east-1:000000000000:capacity-provider:ghost"}}`),
			status: 404, code: "ResourceNotFoundException", msgKey: "Message", typed: true,
			msg: `^Capacity provider not found: arn:aws:lambda:us-east-1:000000000000:capacity-provider:ghost$`, source: "issue 13, from AWS's answers"},
		{op: "CreateFunction", name: "an empty CapacityProviderConfig", method: "POST", path: "/2015-03-31/functions", body: create(`,"CapacityProviderConfig":{}`),
			status: 400, code: "ValidationException", msgKey: "message",
			msg: `^1 validation error detected: Value null at 'capacityProviderConfig.lambdaManagedInstancesCapacityProviderConfig' failed to satisfy constraint: Member must not be null$`, source: model},
		{op: "CreateFunction", name: "provided.al2 on a capacity provider", method: "POST", path: "/2015-03-31/functions",
			body:   strings.Replace(create(onCP), "provided.al2023", "provided.al2", 1),
			status: 400, code: "InvalidParameterValueException", msgKey: "message", typed: true, msg: `provided\.al2 is not supported`, source: "LMI runs provided.al2023 only (AWS's guide)"},
		{op: "CreateFunction", name: "LogFormat Text on a capacity provider", method: "POST", path: "/2015-03-31/functions",
			body:   create(onCP + `,"LoggingConfig":{"LogFormat":"Text"}`),
			status: 400, code: "InvalidParameterValueException", msgKey: "message", typed: true, msg: `JSON log format`, source: "AWS's guide: Managed Instances only support JSON log format"},
		{op: "CreateFunction", name: "a managed runtime without a Handler", method: "POST", path: "/2015-03-31/functions",
			body:   `{"FunctionName":"conf-new","Runtime":"nodejs22.x","Role":"` + roleARN + `","Code":{"ZipFile":"` + zip + `"}}`,
			status: 400, code: "ValidationException", msgKey: "message", msg: `^1 validation error detected: Value null at 'handler' failed to satisfy constraint: Member must not be null$`,
			source: "the code as recorded in pulumi/pulumi-aws#1326 (no message there); the text in AWS's ValidationException form, unconfirmed"},
		{op: "CreateFunction", name: "a runtime this machine cannot run (dotnet8)", method: "POST", path: "/2015-03-31/functions",
			body:   strings.Replace(create(""), `"Runtime":"provided.al2023","Handler":"bootstrap"`, `"Runtime":"dotnet8","Handler":"A::B.C::D"`, 1),
			status: 400, code: "InvalidParameterValueException", msgKey: "message", typed: true,
			msg:    `^The runtime parameter of dotnet8 is not supported by this Paddock installation: it needs a \.NET runtime, which this machine does not have\.$`,
			source: "AWS's wording for a runtime it no longer takes (The runtime parameter of X is no longer supported...), with why: AWS has none for one it cannot run"},
		{op: "CreateFunction", name: "a setting Paddock cannot honour (FileSystemConfigs)", method: "POST", path: "/2015-03-31/functions",
			body:   create(`,"FileSystemConfigs":[{"Arn":"arn:aws:elasticfilesystem:us-east-1:000000000000:access-point/fsap-0123456789abcdef0","LocalMountPath":"/mnt/efs"}]`),
			status: 400, code: "InvalidParameterValueException", msgKey: "message", typed: true, msg: `^FileSystemConfigs is not supported by Paddock: `,
			source: "issue 13: refuse what cannot be honoured with AWS's error for an unsupported value"},
		{op: "UpdateFunctionConfiguration", name: "an empty VpcConfig and DeadLetterConfig, as Terraform sends to clear them", method: "PUT", path: "/2015-03-31/functions/conf-dm/configuration",
			body:   `{"VpcConfig":{"SubnetIds":[],"SecurityGroupIds":[]},"DeadLetterConfig":{"TargetArn":""},"Layers":[]}`,
			status: 200, want: []string{"FunctionName=conf-dm"}, settle: "conf-dm", source: "the hashicorp provider's update of a function without them"},
		{op: "CreateAlias", name: "a numeric alias name", method: "POST", path: "/2015-03-31/functions/conf-dm/aliases", body: `{"Name":"123","FunctionVersion":"1"}`,
			status: 400, code: "ValidationException", msgKey: "message",
			msg: `^1 validation error detected: Value '123' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: \(\?!\^\[0-9\]\+\$\)\(\[a-zA-Z0-9-_\]\+\)$`, source: recV},
		{op: "CreateCapacityProvider", name: "ScalingMode AUTO and MaxVCpuCount 1", method: "POST", path: "/2025-11-30/capacity-providers",
			body: `{"CapacityProviderName":"cp-bad","VpcConfig":{"SubnetIds":["subnet-1"],"SecurityGroupIds":["sg-1"]},"PermissionsConfig":{"CapacityProviderOperatorRoleArn":"` + opRole +
				`"},"CapacityProviderScalingConfig":{"MaxVCpuCount":1,"ScalingMode":"AUTO"}}`,
			status: 400, code: "ValidationException", msgKey: "message",
			msg: `^2 validation errors detected: Value '1' at 'capacityProviderScalingConfig.maxVCpuCount' failed to satisfy constraint: Member must have value greater than or equal to 2; ` +
				`Value 'AUTO' at 'capacityProviderScalingConfig.scalingMode' failed to satisfy constraint: Member must satisfy enum value set: \[Auto, Manual\]$`, source: recV},
		{op: "ListFunctions", name: "MaxItems 0", method: "GET", path: "/2015-03-31/functions?MaxItems=0",
			status: 400, code: "ValidationException", msgKey: "message",
			msg: `^1 validation error detected: Value '0' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1$`, source: recV},

		// ARNs of other regions and accounts.
		{op: "GetFunction", name: "a function ARN of another region", method: "GET", path: "/2015-03-31/functions/arn:aws:lambda:us-west-2:000000000000:function:conf-dm",
			status: 404, code: "ResourceNotFoundException", msgKey: "Message", typed: true,
			msg: `^Functions from 'us-west-2' are not reachable in this region \('us-east-1'\)$`, source: "AWS's text, recorded in public issues"},
		{op: "Invoke", name: "a function ARN of another account", method: "POST", path: "/2015-03-31/functions/arn:aws:lambda:us-east-1:111111111111:function:conf-dm/invocations", body: `{}`,
			status: 403, code: "AccessDeniedException", msgKey: "Message",
			msg: `is not authorized to perform: lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:111111111111:function:conf-dm`, source: "AWS's cross-account refusal"},

		// Capacity providers.
		{op: "GetCapacityProvider", name: "GetCapacityProvider", method: "GET", path: "/2025-11-30/capacity-providers/cp-conf",
			status: 200, want: []string{"CapacityProvider.State=Active", "CapacityProvider.CapacityProviderArn=" + cpARN}, source: model},
		{op: "ListCapacityProviders", name: "ListCapacityProviders", method: "GET", path: "/2025-11-30/capacity-providers",
			status: 200, want: []string{"CapacityProviders.0.CapacityProviderArn=" + cpARN}, source: model},
		{op: "UpdateCapacityProvider", name: "UpdateCapacityProvider", method: "PUT", path: "/2025-11-30/capacity-providers/cp-conf",
			body: `{"CapacityProviderScalingConfig":{"ScalingMode":"Auto"}}`, status: 202, want: []string{"CapacityProvider.CapacityProviderArn=" + cpARN}, source: model},
		{op: "ListFunctionVersionsByCapacityProvider", name: "ListFunctionVersionsByCapacityProvider", method: "GET", path: "/2025-11-30/capacity-providers/cp-conf/function-versions",
			status: 200, want: []string{"CapacityProviderArn=" + cpARN, "FunctionVersions"}, source: model},
		{op: "DeleteCapacityProvider", name: "a capacity provider in use", method: "DELETE", path: "/2025-11-30/capacity-providers/cp-conf",
			status: 409, code: "ResourceConflictException", msgKey: "message", typed: true,
			msg:    `^The capacity provider is currently in use by 1 functions\. To delete this capacity provider, first remove its association with ` + regexp.QuoteMeta(cpARN) + `\.$`,
			source: "AWS's text, on which the Terraform provider retries"},

		// Fields as AWS answers them.
		{op: "GetFunction", name: "GetFunction of a default-mode function", method: "GET", path: "/2015-03-31/functions/conf-dm",
			status: 200, want: []string{"Configuration.FunctionArn=" + fnARN, "Configuration.State=Active", "Configuration.LastUpdateStatus=Successful",
				"Configuration.SnapStart.ApplyOn=None", "Configuration.SnapStart.OptimizationStatus=Off",
				`Configuration.RuntimeVersionConfig.RuntimeVersionArn~^arn:aws:lambda:us-east-1::runtime:[0-9a-f]{64}$`,
				"Configuration.Environment.Variables", "Configuration.LoggingConfig.LogFormat=Text", "!Configuration.LoggingConfig.ApplicationLogLevel",
				"Code.RepositoryType=S3", `Code.Location~^http://127\.0\.0\.1:\d+/paddock/v1/code/[0-9a-f]{64}\?Expires=\d+&Signature=[0-9a-f]{64}$`,
				"Concurrency.ReservedConcurrentExecutions=5"}, source: "AWS's GetFunction answers (SnapStart, RuntimeVersionConfig, an empty Environment kept)"},
		{op: "GetFunction", name: "GetFunction with Qualifier $LATEST", method: "GET", path: "/2015-03-31/functions/conf-dm?Qualifier=%24LATEST",
			status: 200, want: []string{"Configuration.FunctionArn=" + fnARN + ":$LATEST"}, source: "issue 13: $LATEST's ARN is qualified when asked for by name"},
		{op: "GetFunctionConfiguration", name: "an LMI function's defaults", method: "GET", path: "/2015-03-31/functions/conf-lmi/configuration",
			status: 200, want: []string{"State=ActiveNonInvocable", "CapacityProviderConfig.LambdaManagedInstancesCapacityProviderConfig.PerExecutionEnvironmentMaxConcurrency=8",
				"CapacityProviderConfig.LambdaManagedInstancesCapacityProviderConfig.ExecutionEnvironmentMemoryGiBPerVCpu=2",
				"LoggingConfig.LogFormat=JSON", "LoggingConfig.ApplicationLogLevel=INFO", "LoggingConfig.SystemLogLevel=INFO"}, source: "AWS's answers for LMI functions"},
		{op: "ListVersionsByFunction", name: "ListVersionsByFunction", method: "GET", path: "/2015-03-31/functions/conf-dm/versions",
			status: 200, want: []string{"Versions.0.Version=$LATEST", "Versions.0.FunctionArn=" + fnARN + ":$LATEST", "Versions.1.FunctionArn=" + fnARN + ":1"}, source: "AWS qualifies $LATEST in version lists"},
		{op: "GetFunctionScalingConfig", name: "GetFunctionScalingConfig of a missing function", method: "GET", path: "/2025-11-30/functions/ghost/function-scaling-config?Qualifier=1",
			status: 404, code: "ResourceNotFoundException", msgKey: "Message", typed: true, source: model},
		{op: "PutFunctionScalingConfig", name: "PutFunctionScalingConfig of a version that does not exist", method: "PUT", path: "/2025-11-30/functions/conf-lmi/function-scaling-config?Qualifier=9",
			body: `{"FunctionScalingConfig":{"MinExecutionEnvironments":1}}`, status: 404, code: "ResourceNotFoundException", msgKey: "Message", typed: true, source: model},

		// The settings tools read on every plan.
		{op: "GetFunctionCodeSigningConfig", name: "no code signing configuration", method: "GET", path: "/2020-06-30/functions/conf-dm/code-signing-config",
			status: 200, want: []string{"CodeSigningConfigArn=", "FunctionName=conf-dm"}, source: "AWS answers both members, the ARN empty"},
		{op: "PutFunctionCodeSigningConfig", name: "attaching a code signing configuration", method: "PUT", path: "/2020-06-30/functions/conf-dm/code-signing-config",
			body:   `{"CodeSigningConfigArn":"arn:aws:lambda:us-east-1:000000000000:code-signing-config:csc-0123456789abcdef0"}`,
			status: 404, code: "CodeSigningConfigNotFoundException", msgKey: "Message", typed: true, source: model},
		{op: "DeleteFunctionCodeSigningConfig", name: "DeleteFunctionCodeSigningConfig", method: "DELETE", path: "/2020-06-30/functions/conf-dm/code-signing-config",
			status: 204, source: model},
		{op: "GetRuntimeManagementConfig", name: "GetRuntimeManagementConfig", method: "GET", path: "/2021-07-20/functions/conf-dm/runtime-management-config",
			status: 200, want: []string{"UpdateRuntimeOn=Auto", "FunctionArn=" + fnARN, "!RuntimeVersionArn"}, source: "AWS's default"},
		{op: "PutRuntimeManagementConfig", name: "PutRuntimeManagementConfig FunctionUpdate", method: "PUT", path: "/2021-07-20/functions/conf-dm/runtime-management-config",
			body: `{"UpdateRuntimeOn":"FunctionUpdate"}`, status: 200, want: []string{"UpdateRuntimeOn=FunctionUpdate", "FunctionArn=" + fnARN}, source: model},
		{op: "PutRuntimeManagementConfig", name: "PutRuntimeManagementConfig with a mode the model does not have", method: "PUT", path: "/2021-07-20/functions/conf-dm/runtime-management-config",
			body: `{"UpdateRuntimeOn":"Sometimes"}`, status: 400, code: "ValidationException", msgKey: "message",
			msg: `^1 validation error detected: Value 'Sometimes' at 'updateRuntimeOn' failed to satisfy constraint: Member must satisfy enum value set: \[Auto, Manual, FunctionUpdate\]$`, source: recV},
		{op: "GetFunctionRecursionConfig", name: "GetFunctionRecursionConfig", method: "GET", path: "/2024-08-31/functions/conf-dm/recursion-config",
			status: 200, want: []string{"RecursiveLoop=Terminate"}, source: "AWS's default"},
		{op: "PutFunctionRecursionConfig", name: "PutFunctionRecursionConfig", method: "PUT", path: "/2024-08-31/functions/conf-dm/recursion-config",
			body: `{"RecursiveLoop":"Allow"}`, status: 200, want: []string{"RecursiveLoop=Allow"}, source: model},

		// Concurrency and account.
		{op: "GetAccountSettings", name: "GetAccountSettings", method: "GET", path: "/2016-08-19/account-settings",
			status: 200, want: []string{"AccountLimit.ConcurrentExecutions", "AccountUsage.FunctionCount"}, source: model},
		{op: "GetFunctionConcurrency", name: "GetFunctionConcurrency", method: "GET", path: "/2019-09-30/functions/conf-dm/concurrency",
			status: 200, want: []string{"ReservedConcurrentExecutions=5"}, source: model},
		{op: "PutFunctionConcurrency", name: "PutFunctionConcurrency below zero", method: "PUT", path: "/2017-10-31/functions/conf-dm/concurrency",
			body: `{"ReservedConcurrentExecutions":-1}`, status: 400, code: "ValidationException", msgKey: "message",
			msg: `^1 validation error detected: Value '-1' at 'reservedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 0$`, source: recV},
		{op: "GetProvisionedConcurrencyConfig", name: "GetProvisionedConcurrencyConfig with none", method: "GET", path: "/2019-09-30/functions/conf-dm/provisioned-concurrency?Qualifier=1",
			status: 404, code: "ProvisionedConcurrencyConfigNotFoundException", msgKey: "message", typed: true, source: model},
		{op: "ListProvisionedConcurrencyConfigs", name: "ListProvisionedConcurrencyConfigs (same path, List=ALL)", method: "GET", path: "/2019-09-30/functions/conf-dm/provisioned-concurrency?List=ALL",
			status: 200, want: []string{"ProvisionedConcurrencyConfigs"}, source: "the model tells the two apart by the query List=ALL"},
		{op: "PutProvisionedConcurrencyConfig", name: "PutProvisionedConcurrencyConfig of $LATEST", method: "PUT", path: "/2019-09-30/functions/conf-dm/provisioned-concurrency?Qualifier=%24LATEST",
			body: `{"ProvisionedConcurrentExecutions":1}`, status: 400, code: "InvalidParameterValueException", msgKey: "message", typed: true, source: "AWS refuses provisioned concurrency on $LATEST"},
		{op: "DeleteProvisionedConcurrencyConfig", name: "DeleteProvisionedConcurrencyConfig with none", method: "DELETE", path: "/2019-09-30/functions/conf-dm/provisioned-concurrency?Qualifier=1",
			status: 204, source: model},
		{op: "DeleteFunctionConcurrency", name: "DeleteFunctionConcurrency", method: "DELETE", path: "/2017-10-31/functions/conf-dm/concurrency",
			status: 204, source: model},

		// Aliases, versions, tags, policies.
		{op: "CreateAlias", name: "CreateAlias", method: "POST", path: "/2015-03-31/functions/conf-dm/aliases", body: `{"Name":"live","FunctionVersion":"1"}`,
			status: 201, want: []string{"AliasArn=" + fnARN + ":live", "FunctionVersion=1", "RevisionId"}, source: model},
		{op: "GetAlias", name: "GetAlias", method: "GET", path: "/2015-03-31/functions/conf-dm/aliases/live",
			status: 200, want: []string{"Name=live"}, source: model},
		{op: "ListAliases", name: "ListAliases", method: "GET", path: "/2015-03-31/functions/conf-dm/aliases",
			status: 200, want: []string{"Aliases.0.Name=live"}, source: model},
		{op: "UpdateAlias", name: "UpdateAlias", method: "PUT", path: "/2015-03-31/functions/conf-dm/aliases/live", body: `{"Description":"now"}`,
			status: 200, want: []string{"Description=now"}, source: model},
		{op: "AddPermission", name: "AddPermission", method: "POST", path: "/2015-03-31/functions/conf-dm/policy",
			body: `{"StatementId":"s1","Action":"lambda:InvokeFunction","Principal":"s3.amazonaws.com"}`, status: 201, want: []string{"Statement~\"Sid\":\"s1\""}, source: model},
		{op: "GetPolicy", name: "GetPolicy", method: "GET", path: "/2015-03-31/functions/conf-dm/policy",
			status: 200, want: []string{`Policy~"Version":"2012-10-17"`, "RevisionId"}, source: "AWS's policy JSON"},
		{op: "RemovePermission", name: "RemovePermission", method: "DELETE", path: "/2015-03-31/functions/conf-dm/policy/s1",
			status: 204, source: model},

		// Layers (control/layer.go, layerpolicy.go, functionlayers.go).
		{op: "PublishLayerVersion", name: "PublishLayerVersion", method: "POST", path: "/2018-10-31/layers/conf-lib/versions",
			body:   `{"Content":{"ZipFile":"` + zip + `"},"CompatibleArchitectures":[],"Description":"d"}`,
			status: 201, want: []string{"Version=1", "LayerArn=" + layerARN, "LayerVersionArn=" + layerARN + ":1", "Description=d", "Content.CodeSha256", "Content.CodeSize", "CreatedDate", "CompatibleArchitectures", "!CompatibleRuntimes", "!LicenseInfo"}, source: lay},
		{op: "GetLayerVersion", name: "GetLayerVersion", method: "GET", path: "/2018-10-31/layers/conf-lib/versions/1",
			status: 200, want: []string{"Version=1", "Content.Location~^http://"}, source: lay},
		{op: "GetLayerVersion", name: "GetLayerVersion of version 0", method: "GET", path: "/2018-10-31/layers/conf-lib/versions/0",
			status: 400, code: "InvalidParameterValueException", msgKey: "message", typed: true, msg: `^Layer Version Cannot be less than 1$`, source: lay},
		{op: "GetLayerVersion", name: "GetLayerVersion of a missing version", method: "GET", path: "/2018-10-31/layers/conf-lib/versions/2",
			status: 404, code: "ResourceNotFoundException", msgKey: "Message", typed: true, msg: `^The resource you requested does not exist\.$`, source: lay},
		{op: "GetLayerVersionByArn", name: "GetLayerVersionByArn", method: "GET", path: "/2018-10-31/layers?find=LayerVersion&Arn=" + layerARN + ":1",
			status: 200, want: []string{"LayerVersionArn=" + layerARN + ":1"}, source: lay},
		{op: "ListLayers", name: "ListLayers", method: "GET", path: "/2018-10-31/layers?MaxItems=1",
			status: 200, want: []string{"Layers.0.LayerName=conf-lib", "Layers.0.LatestMatchingVersion.Version=1", "!Layers.0.LatestMatchingVersion.Content"}, source: lay},
		{op: "ListLayers", name: "ListLayers of an unknown architecture", method: "GET", path: "/2018-10-31/layers?CompatibleArchitecture=archdoesnotexist",
			status: 400, code: "ValidationException", msgKey: "message",
			msg: `^1 validation error detected: Value 'archdoesnotexist' at 'compatibleArchitecture' failed to satisfy constraint: Member must satisfy enum value set: \[x86_64, arm64\]$`, source: lay},
		{op: "ListLayerVersions", name: "ListLayerVersions", method: "GET", path: "/2018-10-31/layers/conf-lib/versions",
			status: 200, want: []string{"LayerVersions.0.Version=1", "LayerVersions.0.Description=d", "!NextMarker"}, source: lay},
		{op: "AddLayerVersionPermission", name: "AddLayerVersionPermission", method: "POST", path: "/2018-10-31/layers/conf-lib/versions/1/policy",
			body:   `{"StatementId":"s1","Action":"lambda:GetLayerVersion","Principal":"*"}`,
			status: 201, want: []string{`Statement~^\{"Sid":"s1","Effect":"Allow","Principal":"\*","Action":"lambda:GetLayerVersion","Resource":"` + layerARN + `:1"\}$`, "RevisionId"}, source: lay},
		{op: "AddLayerVersionPermission", name: "AddLayerVersionPermission of a statement id taken", method: "POST", path: "/2018-10-31/layers/conf-lib/versions/1/policy",
			body:   `{"StatementId":"s1","Action":"lambda:GetLayerVersion","Principal":"*"}`,
			status: 409, code: "ResourceConflictException", msgKey: "message", typed: true, msg: `^The statement id \(s1\) provided already exists`, source: lay},
		{op: "GetLayerVersionPolicy", name: "GetLayerVersionPolicy", method: "GET", path: "/2018-10-31/layers/conf-lib/versions/1/policy",
			status: 200, want: []string{`Policy~^\{"Version":"2012-10-17","Id":"default","Statement":\[`, "RevisionId"}, source: lay},
		{op: "RemoveLayerVersionPermission", name: "RemoveLayerVersionPermission with a stale RevisionId", method: "DELETE", path: "/2018-10-31/layers/conf-lib/versions/1/policy/s1?RevisionId=wrong",
			status: 412, code: "PreconditionFailedException", msgKey: "message", typed: true, msg: `Call the GetLayerPolicy API to retrieve the latest Revision Id$`, source: lay},
		{op: "RemoveLayerVersionPermission", name: "RemoveLayerVersionPermission", method: "DELETE", path: "/2018-10-31/layers/conf-lib/versions/1/policy/s1",
			status: 204, source: lay},
		{op: "GetLayerVersionPolicy", name: "GetLayerVersionPolicy without a policy", method: "GET", path: "/2018-10-31/layers/conf-lib/versions/1/policy",
			status: 404, code: "ResourceNotFoundException", msgKey: "Message", typed: true, msg: `^No policy is associated with the given resource\.$`, source: lay},
		{op: "UpdateFunctionConfiguration", name: "six layers", method: "PUT", path: "/2015-03-31/functions/conf-dm/configuration",
			body:   `{"Layers":["` + strings.Repeat(layerARN+`:1","`, 5) + layerARN + `:1"]}`,
			status: 400, code: "InvalidParameterValueException", msgKey: "message", typed: true, msg: `^Cannot reference more than 5 layers\.$`, source: lay},
		{op: "UpdateFunctionConfiguration", name: "a layer version that does not exist", method: "PUT", path: "/2015-03-31/functions/conf-dm/configuration",
			body:   `{"Layers":["` + layerARN + `:9"]}`,
			status: 400, code: "InvalidParameterValueException", msgKey: "message", typed: true, msg: `^Layer version ` + layerARN + `:9 does not exist\.$`, source: lay},
		{op: "DeleteLayerVersion", name: "DeleteLayerVersion", method: "DELETE", path: "/2018-10-31/layers/conf-lib/versions/1",
			status: 204, source: lay},
		{op: "DeleteLayerVersion", name: "DeleteLayerVersion of a version that is gone", method: "DELETE", path: "/2018-10-31/layers/conf-lib/versions/1",
			status: 204, source: lay},
		{op: "TagResource", name: "TagResource", method: "POST", path: "/2017-03-31/tags/" + fnARN, body: `{"Tags":{"team":"a"}}`,
			status: 204, source: model},
		{op: "ListTags", name: "ListTags", method: "GET", path: "/2017-03-31/tags/" + fnARN,
			status: 200, want: []string{"Tags.team=a"}, source: model},
		{op: "UntagResource", name: "UntagResource", method: "DELETE", path: "/2017-03-31/tags/" + fnARN + "?tagKeys=team",
			status: 204, source: model},
		{op: "PublishVersion", name: "PublishVersion of an unchanged $LATEST", method: "POST", path: "/2015-03-31/functions/conf-dm/versions", body: `{}`,
			status: 201, want: []string{"Version=1", "FunctionArn=" + fnARN + ":1"}, source: "AWS returns the existing version"},
		// Asynchronous invocation configs (issue 15).
		{op: "PutFunctionEventInvokeConfig", name: "PutFunctionEventInvokeConfig", method: "PUT", path: "/2019-09-25/functions/conf-dm/event-invoke-config", body: `{"MaximumRetryAttempts":1}`,
			status: 200, want: []string{"FunctionArn=" + fnARN + ":$LATEST", "MaximumRetryAttempts=1", "!MaximumEventAgeInSeconds", `LastModified~^1\.\d+e\+09$`,
				"DestinationConfig.OnSuccess", "DestinationConfig.OnFailure", "!DestinationConfig.OnFailure.Destination"}, source: eic},
		{op: "PutFunctionEventInvokeConfig", name: "PutFunctionEventInvokeConfig with 3 retries", method: "PUT", path: "/2019-09-25/functions/conf-dm/event-invoke-config", body: `{"MaximumRetryAttempts":3}`,
			status: 400, code: "ValidationException", msgKey: "message",
			msg: `^1 validation error detected: Value '3' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to 2$`, source: "the model's range in AWS's words (moto's tests)"},
		{op: "PutFunctionEventInvokeConfig", name: "PutFunctionEventInvokeConfig with no setting", method: "PUT", path: "/2019-09-25/functions/conf-dm/event-invoke-config", body: `{}`,
			status: 400, code: "InvalidParameterValueException", msgKey: "message", typed: true,
			msg: `^You must specify at least one of error handling or destination setting\.$`, source: eic},
		{op: "UpdateFunctionEventInvokeConfig", name: "UpdateFunctionEventInvokeConfig keeps what it does not name", method: "POST", path: "/2019-09-25/functions/conf-dm/event-invoke-config",
			body: `{"MaximumEventAgeInSeconds":60}`, status: 200, want: []string{"FunctionArn=" + fnARN + ":$LATEST", "MaximumRetryAttempts=1", "MaximumEventAgeInSeconds=60"}, source: eic},
		{op: "GetFunctionEventInvokeConfig", name: "GetFunctionEventInvokeConfig of a version without one", method: "GET", path: "/2019-09-25/functions/conf-dm/event-invoke-config?Qualifier=1",
			status: 404, code: "ResourceNotFoundException", msgKey: "Message", typed: true,
			msg: `^The function ` + regexp.QuoteMeta(fnARN) + `:1 doesn't have an EventInvokeConfig$`, source: eic},
		{op: "ListFunctionEventInvokeConfigs", name: "ListFunctionEventInvokeConfigs", method: "GET", path: "/2019-09-25/functions/conf-dm/event-invoke-config/list?MaxItems=50",
			status: 200, want: []string{"FunctionEventInvokeConfigs.0.FunctionArn=" + fnARN + ":$LATEST", "FunctionEventInvokeConfigs.0.MaximumEventAgeInSeconds=60", "!NextMarker"}, source: eic},
		{op: "DeleteFunctionEventInvokeConfig", name: "DeleteFunctionEventInvokeConfig", method: "DELETE", path: "/2019-09-25/functions/conf-dm/event-invoke-config",
			status: 204, source: model},
		{op: "DeleteFunctionEventInvokeConfig", name: "DeleteFunctionEventInvokeConfig again", method: "DELETE", path: "/2019-09-25/functions/conf-dm/event-invoke-config",
			status: 404, code: "ResourceNotFoundException", msgKey: "Message", typed: true,
			msg: `^The function ` + regexp.QuoteMeta(fnARN) + `:\$LATEST doesn't have an EventInvokeConfig$`, source: eic},
		// Function URL configs (issue 15).
		{op: "CreateFunctionUrlConfig", name: "CreateFunctionUrlConfig", method: "POST", path: "/2021-10-31/functions/conf-dm/url", body: `{"AuthType":"NONE"}`,
			status: 201, want: []string{"FunctionArn=" + fnARN, "AuthType=NONE", `FunctionUrl~/[a-z0-9]{32}[./]`, `CreationTime~^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$`,
				"!LastModifiedTime", "!InvokeMode", "!Cors"}, source: furl},
		{op: "CreateFunctionUrlConfig", name: "CreateFunctionUrlConfig again", method: "POST", path: "/2021-10-31/functions/conf-dm/url", body: `{"AuthType":"NONE"}`,
			status: 409, code: "ResourceConflictException", msgKey: "message", typed: true,
			msg: `^Failed to create function url config for \[functionArn = ` + regexp.QuoteMeta(fnARN) + `\]\. Error message:  FunctionUrlConfig exists for this Lambda function$`, source: furl},
		{op: "CreateFunctionUrlConfig", name: "CreateFunctionUrlConfig of a missing function", method: "POST", path: "/2021-10-31/functions/conf-ghost/url", body: `{"AuthType":"NONE"}`,
			status: 404, code: "ResourceNotFoundException", msgKey: "Message", typed: true, msg: `^Function does not exist$`, source: furl},
		{op: "CreateFunctionUrlConfig", name: "CreateFunctionUrlConfig of a missing alias", method: "POST", path: "/2021-10-31/functions/conf-dm/url?Qualifier=v1", body: `{"AuthType":"NONE"}`,
			status: 404, code: "ResourceNotFoundException", msgKey: "Message", typed: true, msg: `^Function does not exist$`, source: furl},
		{op: "CreateFunctionUrlConfig", name: "CreateFunctionUrlConfig of a version", method: "POST", path: "/2021-10-31/functions/conf-dm/url?Qualifier=1", body: `{"AuthType":"NONE"}`,
			status: 400, code: "ValidationException", msgKey: "message",
			msg: `^1 validation error detected: Value '1' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: ` + regexp.QuoteMeta(`((?!^\d+$)^[0-9a-zA-Z-_]+$)`) + `$`, source: furl},
		{op: "CreateFunctionUrlConfig", name: "CreateFunctionUrlConfig of $LATEST", method: "POST", path: "/2021-10-31/functions/conf-dm/url?Qualifier=%24LATEST", body: `{"AuthType":"NONE"}`,
			status: 400, code: "ValidationException", msgKey: "message",
			msg: `^1 validation error detected: Value '\$LATEST' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: ` + regexp.QuoteMeta(`((?!^\d+$)^[0-9a-zA-Z-_]+$)`) + `$`, source: furl},
		{op: "CreateFunctionUrlConfig", name: "CreateFunctionUrlConfig with an unknown InvokeMode", method: "POST", path: "/2021-10-31/functions/conf-dm/url", body: `{"AuthType":"NONE","InvokeMode":"UNKNOWN"}`,
			status: 400, code: "ValidationException", msgKey: "message",
			msg: `^1 validation error detected: Value 'UNKNOWN' at 'invokeMode' failed to satisfy constraint: Member must satisfy enum value set: \[RESPONSE_STREAM, BUFFERED\]$`, source: furl},
		{op: "GetFunctionUrlConfig", name: "GetFunctionUrlConfig", method: "GET", path: "/2021-10-31/functions/conf-dm/url",
			status: 200, want: []string{"FunctionArn=" + fnARN, "AuthType=NONE", "InvokeMode=BUFFERED", "CreationTime", "LastModifiedTime", "!Cors"}, source: furl},
		{op: "GetFunctionUrlConfig", name: "GetFunctionUrlConfig of a missing alias", method: "GET", path: "/2021-10-31/functions/conf-dm/url?Qualifier=v1",
			status: 404, code: "ResourceNotFoundException", msgKey: "Message", typed: true, msg: `^The resource you requested does not exist\.$`, source: furl},
		{op: "GetFunctionUrlConfig", name: "GetFunctionUrlConfig with a qualifier the name contradicts", method: "GET", path: "/2021-10-31/functions/conf-dm:live-doesnotmatch/url?Qualifier=live",
			status: 400, code: "InvalidParameterValueException", msgKey: "message", typed: true,
			msg: `^The derived qualifier from the function name does not match the specified qualifier\.$`, source: furl},
		{op: "UpdateFunctionUrlConfig", name: "UpdateFunctionUrlConfig", method: "PUT", path: "/2021-10-31/functions/conf-dm/url", body: `{"AuthType":"AWS_IAM"}`,
			status: 200, want: []string{"FunctionArn=" + fnARN, "AuthType=AWS_IAM", "CreationTime", "LastModifiedTime", "!InvokeMode"}, source: furl},
		{op: "UpdateFunctionUrlConfig", name: "UpdateFunctionUrlConfig of a missing function", method: "PUT", path: "/2021-10-31/functions/conf-ghost/url", body: `{"AuthType":"AWS_IAM"}`,
			status: 404, code: "ResourceNotFoundException", msgKey: "Message", typed: true, msg: `^Function does not exist$`, source: furl},
		{op: "ListFunctionUrlConfigs", name: "ListFunctionUrlConfigs", method: "GET", path: "/2021-10-31/functions/conf-dm/urls?MaxItems=50",
			status: 200, want: []string{"FunctionUrlConfigs.0.FunctionArn=" + fnARN, "FunctionUrlConfigs.0.AuthType=AWS_IAM", "FunctionUrlConfigs.0.InvokeMode=BUFFERED", "!NextMarker"}, source: furl},
		{op: "ListFunctionUrlConfigs", name: "ListFunctionUrlConfigs of a missing function", method: "GET", path: "/2021-10-31/functions/conf-ghost/urls",
			status: 404, code: "ResourceNotFoundException", msgKey: "Message", typed: true, msg: `^Function does not exist$`, source: furl},
		{op: "DeleteFunctionUrlConfig", name: "DeleteFunctionUrlConfig", method: "DELETE", path: "/2021-10-31/functions/conf-dm/url",
			status: 204, source: model},
		{op: "DeleteFunctionUrlConfig", name: "DeleteFunctionUrlConfig again", method: "DELETE", path: "/2021-10-31/functions/conf-dm/url",
			status: 404, code: "ResourceNotFoundException", msgKey: "Message", typed: true, msg: `^The resource you requested does not exist\.$`, source: furl},
		// Event source mappings (issue 15).
		{op: "CreateEventSourceMapping", name: "CreateEventSourceMapping of an SQS queue", method: "POST", path: "/2015-03-31/event-source-mappings/",
			body:   `{"FunctionName":"conf-dm","EventSourceArn":"arn:aws:sqs:us-east-1:000000000000:conf-q"}`,
			status: 202, want: []string{"State=Creating", "StateTransitionReason=USER_INITIATED", "BatchSize=10", "MaximumBatchingWindowInSeconds=0", "FunctionArn=" + fnARN,
				`LastModified~^1\.\d+e\+09$`, "FunctionResponseTypes", "!StartingPosition", "!DestinationConfig"}, source: esm},
		{op: "CreateEventSourceMapping", name: "CreateEventSourceMapping of a stream without a starting position", method: "POST", path: "/2015-03-31/event-source-mappings/",
			body:   `{"FunctionName":"conf-dm","EventSourceArn":"arn:aws:kinesis:us-east-1:000000000000:stream/conf-s"}`,
			status: 400, code: "InvalidParameterValueException", msgKey: "message", typed: true,
			msg: `^1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: Member must not be null\.$`, source: esm},
		{op: "GetEventSourceMapping", name: "GetEventSourceMapping of an unknown UUID", method: "GET", path: "/2015-03-31/event-source-mappings/4f1e4c1e-0000-4000-8000-000000000000",
			status: 404, code: "ResourceNotFoundException", msgKey: "Message", typed: true, msg: `^The resource you requested does not exist\.$`, source: esm},
		{op: "UpdateEventSourceMapping", name: "UpdateEventSourceMapping of an unknown UUID", method: "PUT", path: "/2015-03-31/event-source-mappings/4f1e4c1e-0000-4000-8000-000000000000",
			body: `{"Enabled":false}`, status: 404, code: "ResourceNotFoundException", msgKey: "Message", typed: true, msg: `^The resource you requested does not exist\.$`, source: esm},
		{op: "DeleteEventSourceMapping", name: "DeleteEventSourceMapping of an unknown UUID", method: "DELETE", path: "/2015-03-31/event-source-mappings/4f1e4c1e-0000-4000-8000-000000000000",
			status: 404, code: "ResourceNotFoundException", msgKey: "Message", typed: true, msg: `^The resource you requested does not exist\.$`, source: esm},
		{op: "ListEventSourceMappings", name: "ListEventSourceMappings", method: "GET", path: "/2015-03-31/event-source-mappings/?FunctionName=conf-dm&MaxItems=5",
			status: 200, want: []string{"EventSourceMappings.0.EventSourceArn=arn:aws:sqs:us-east-1:000000000000:conf-q", "!NextMarker"}, source: esm},
		{op: "Invoke", name: "Invoke a default-mode version", method: "POST", path: "/2015-03-31/functions/conf-dm/invocations?Qualifier=1", body: `{"ping":1}`,
			status: 200, want: []string{"ping=1"}, source: model},
		{op: "UpdateFunctionConfiguration", name: "a FIFO queue as the dead-letter queue", method: "PUT", path: "/2015-03-31/functions/conf-dm/configuration",
			body:   `{"DeadLetterConfig":{"TargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq.fifo"}}`,
			status: 400, code: "InvalidParameterValueException", msgKey: "message", typed: true,
			msg: `^Invalid dead letter queue ARN: FIFO SQS queue is not supported for dead letter configuration$`, source: "AWS's answer, as users quote it (a Terraform run's error)"},
		{op: "InvokeWithResponseStream", name: "InvokeWithResponseStream of a function that does not exist", method: "POST", path: "/2021-11-15/functions/conf-nope/response-streaming-invocations", body: `{}`,
			status: 404, code: "ResourceNotFoundException", msgKey: "Message", typed: true, msg: `^Function not found: arn:aws:lambda:us-east-1:000000000000:function:conf-nope$`, source: "as Invoke (the model's errors are Invoke's)"},
		{op: "InvokeWithResponseStream", name: "InvokeWithResponseStream of a payload that is not JSON", method: "POST", path: "/2021-11-15/functions/conf-dm/response-streaming-invocations", body: `{not json`,
			status: 400, code: "InvalidRequestContentException", msgKey: "message", typed: true, msg: `^Could not parse request body into json`, source: "as Invoke"},
		{op: "InvokeAsync", name: "InvokeAsync queues the event", method: "POST", path: "/2014-11-13/functions/conf-dm/invoke-async/", body: `{"ping":1}`,
			status: 202, source: model},
		{op: "InvokeAsync", name: "InvokeAsync of a payload that is not JSON", method: "POST", path: "/2014-11-13/functions/conf-dm/invoke-async/", body: `{not json`,
			status: 400, code: "InvalidRequestContentException", msgKey: "message", typed: true, msg: `^Could not parse request body into json`, source: model},
		{op: "UpdateFunctionConfiguration", name: "UpdateFunctionConfiguration answers InProgress", method: "PUT", path: "/2015-03-31/functions/conf-dm/configuration", body: `{"Timeout":7}`,
			status: 200, want: []string{"Timeout=7", "State=Active", "LastUpdateStatus=InProgress", "LastUpdateStatusReason=The function is being created.", "LastUpdateStatusReasonCode=Creating"}, settle: "conf-dm",
			source: "AWS's UpdateFunctionConfiguration answers, recorded in public READMEs"},
		{op: "UpdateFunctionCode", name: "UpdateFunctionCode of an LMI function", method: "PUT", path: "/2015-03-31/functions/conf-lmi/code", body: `{"ZipFile":"` + zip + `"}`,
			status: 200, want: []string{"LastUpdateStatus=InProgress"}, settle: "conf-lmi", source: "as UpdateFunctionConfiguration"},
		{op: "CreateFunction", name: "CreateFunction answers Pending", method: "POST", path: "/2015-03-31/functions", body: create(`,"MemorySize":128`),
			status: 201, want: []string{"State=Pending", "StateReason=The function is being created.", "StateReasonCode=Creating", "!LastUpdateStatus"},
			source: "AWS's CreateFunction answers"},
		{op: "DeleteAlias", name: "DeleteAlias", method: "DELETE", path: "/2015-03-31/functions/conf-dm/aliases/live",
			status: 204, source: model},
		{op: "DeleteFunction", name: "DeleteFunction of an LMI function", method: "DELETE", path: "/2015-03-31/functions/conf-lmi",
			status: 202, source: "AWS deletes capacity provider functions asynchronously"},
		{op: "CreateCapacityProvider", name: "CreateCapacityProvider", method: "POST", path: "/2025-11-30/capacity-providers",
			body:   `{"CapacityProviderName":"cp-two","VpcConfig":{"SubnetIds":["subnet-1"],"SecurityGroupIds":["sg-1"]},"PermissionsConfig":{"CapacityProviderOperatorRoleArn":"` + opRole + `"}}`,
			status: 202, want: []string{"CapacityProvider.State=Active"}, source: model},
		{op: "DeleteCapacityProvider", name: "DeleteCapacityProvider of an unused one", method: "DELETE", path: "/2025-11-30/capacity-providers/cp-two",
			status: 202, want: []string{"CapacityProvider.State=Deleting"}, source: model},
	}
}

// checkWire sends one case and checks the answer.
func (e *env) checkWire(t *testing.T, tc wireCase) {
	t.Helper()
	var resp *http.Response
	if tc.unsigned {
		req, err := http.NewRequest(tc.method, e.p.Endpoint+tc.path, strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		if resp, err = http.DefaultClient.Do(req); err != nil {
			t.Fatal(err)
		}
	} else {
		resp = e.signedDo(tc.method, tc.path, tc.body)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != tc.status || resp.Header.Get("X-Amzn-ErrorType") != tc.code {
		t.Fatalf("got %d %q %s; want %d %q (%s)", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), raw, tc.status, tc.code, tc.source)
	}
	if len(raw) == 0 && len(tc.want) == 0 && tc.code == "" {
		return // 204, and DeleteFunction's 202 (its one output member is the status)
	}
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("answer is not a JSON object: %v: %s", err, raw)
	}
	if tc.code != "" {
		other := map[string]string{"Message": "message", "message": "Message"}[tc.msgKey]
		msg, ok := body[tc.msgKey].(string)
		if _, wrong := body[other]; !ok || wrong || msg == "" {
			t.Fatalf("error body %s: want the message under %q only (%s)", raw, tc.msgKey, tc.source)
		}
		if typ, has := body["Type"]; has != tc.typed || (has && typ != "User") {
			t.Fatalf("error body %s: Type present %v, want %v (%s)", raw, has, tc.typed, tc.source)
		}
		if tc.msg != "" && !regexp.MustCompile(tc.msg).MatchString(msg) {
			t.Fatalf("message %q does not match %q (%s)", msg, tc.msg, tc.source)
		}
	}
	for _, w := range tc.want {
		checkField(t, body, w, tc.source)
	}
}

// checkField checks one "a.b=v", "a.b~re", "a.b" or "!a.b" against v.
func checkField(t *testing.T, v any, w, source string) {
	t.Helper()
	absent := strings.HasPrefix(w, "!")
	path, want, op := strings.TrimPrefix(w, "!"), "", byte(0)
	if i := strings.IndexAny(path, "=~"); i >= 0 {
		path, want, op = path[:i], path[i+1:], path[i]
	}
	cur, found := v, true
	for _, k := range strings.Split(path, ".") {
		switch x := cur.(type) {
		case map[string]any:
			cur, found = x[k]
		case []any:
			i, err := strconv.Atoi(k)
			found = err == nil && i < len(x)
			if found {
				cur = x[i]
			}
		default:
			found = false
		}
		if !found {
			break
		}
	}
	got := fmt.Sprint(cur)
	switch {
	case absent && found:
		t.Errorf("%s is %v, want it absent (%s)", path, cur, source)
	case absent:
	case !found:
		t.Errorf("%s is missing (%s)", path, source)
	case op == '=' && got != want:
		t.Errorf("%s = %q, want %q (%s)", path, got, want, source)
	case op == '~' && !regexp.MustCompile(want).MatchString(got):
		t.Errorf("%s = %q, want a match of %q (%s)", path, got, want, source)
	}
}

// TestConformanceCoversEveryOperation: the suite has a case for every
// operation the API serves (the README's "supported" rows, held to the
// routes by lambdaapi's TestREADMECoverage).
func TestConformanceCoversEveryOperation(t *testing.T) {
	var ops []string
	for _, tc := range conformanceCases(t) {
		ops = append(ops, tc.op)
	}
	for _, op := range lambdaapi.New(nil, nil, nil).Operations() {
		if !slices.Contains(ops, op) {
			t.Errorf("the conformance suite has no case for %s", op)
		}
	}
}

// TestCodeLocationDownloads: GetFunction's Code.Location gives the zip back
// to anyone holding the URL, as AWS's presigned S3 URL does, and a URL
// whose digest, expiry or signature was changed gets S3's 403.
func TestCodeLocationDownloads(t *testing.T) {
	e := start(t)
	c := ctx(t)
	in := createInput(t, "dl", "", fnOpts{})
	in.CapacityProviderConfig, in.MemorySize = nil, aws.Int32(128)
	if _, err := e.lambda.CreateFunction(c, in); err != nil {
		t.Fatal(err)
	}
	out, err := e.lambda.GetFunction(c, &lambda.GetFunctionInput{FunctionName: aws.String("dl")})
	if err != nil {
		t.Fatal(err)
	}
	loc := aws.ToString(out.Code.Location)
	get := func(u string) (int, []byte) {
		t.Helper()
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if status, zip := get(loc); status != 200 || string(zip) != string(in.Code.ZipFile) {
		t.Fatalf("GET Code.Location: %d, %d bytes; want 200 and the %d bytes uploaded", status, len(zip), len(in.Code.ZipFile))
	}
	u, q, _ := strings.Cut(loc, "?")
	sig := regexp.MustCompile(`Signature=([0-9a-f]+)`).FindStringSubmatch(q)[1]
	flipped := strings.Replace(q, sig, strings.Repeat("0", len(sig)), 1)
	exp := regexp.MustCompile(`Expires=(\d+)`).FindStringSubmatch(q)[1]
	n, _ := strconv.ParseInt(exp, 10, 64)
	later := strings.Replace(q, "Expires="+exp, "Expires="+strconv.FormatInt(n+3600, 10), 1)
	otherSHA := u[:len(u)-64] + strings.Repeat("a", 64)
	for name, bad := range map[string]string{
		"forged signature": u + "?" + flipped, "extended expiry": u + "?" + later,
		"another digest": otherSHA + "?" + q, "no signature": u,
	} {
		if status, body := get(bad); status != http.StatusForbidden || !strings.Contains(string(body), "<Code>AccessDenied</Code>") {
			t.Errorf("%s: %d %s, want 403 AccessDenied", name, status, body)
		}
	}
}
