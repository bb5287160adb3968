// Package awserr is the AWS Lambda API's error vocabulary: each error has
// the exception name clients switch on, the HTTP status the model gives it,
// and a message for people.
package awserr

import (
	"fmt"
	"net/http"
)

// Error is an error that reaches the API caller with header
// X-Amzn-ErrorType: Code and the JSON body Body gives.
type Error struct {
	Code    string
	Status  int
	Message string
	Type    string // "User" or "Service" for the model's exceptions; "" for the others
	Reason  string // TooManyRequestsException's Reason
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// capitalMessage lists the model's exceptions whose message member is
// spelled "Message" (the others spell it "message"): the Lambda model
// (botocore lambda/2015-03-31) names it per shape, and boto3 reads only the
// key its shape names. awsmodel's tests hold this list to the model.
var capitalMessage = map[string]bool{
	"CallbackTimeoutException": true, "CodeSigningConfigNotFoundException": true,
	"CodeVerificationFailedException": true, "DurableExecutionAlreadyStartedException": true,
	"EC2AccessDeniedException": true, "EC2ThrottledException": true, "EC2UnexpectedException": true,
	"EFSIOException": true, "EFSMountConnectivityException": true, "EFSMountFailureException": true,
	"EFSMountTimeoutException": true, "ENILimitReachedException": true,
	"InvalidCodeSignatureException": true, "InvalidRuntimeException": true,
	"InvalidSecurityGroupIDException": true, "InvalidSubnetIDException": true,
	"InvalidZipFileException": true, "KMSAccessDeniedException": true, "KMSDisabledException": true,
	"KMSInvalidStateException": true, "KMSNotFoundException": true,
	"NoPublishedVersionException": true, "RecursiveInvocationException": true,
	"ResourceInUseException": true, "ResourceNotFoundException": true,
	"S3FilesMountConnectivityException": true, "S3FilesMountFailureException": true,
	"S3FilesMountTimeoutException": true, "ServiceException": true, "SnapStartException": true,
	"SnapStartNotReadyException": true, "SnapStartTimeoutException": true,
	"SubnetIPAddressLimitReachedException": true,
	// Not a model shape, but Lambda's own authorization failure writes it so.
	"AccessDeniedException": true,
}

// CapitalMessage reports whether code's body spells its message "Message".
func CapitalMessage(code string) bool { return capitalMessage[code] }

// Body is the JSON error body: the message under the key the model's shape
// names, Type only where the shape has one (the errors of AWS's front end,
// ValidationException and the signature errors, carry none), and Reason
// for throttles.
func (e *Error) Body() map[string]string {
	key := "message"
	if capitalMessage[e.Code] {
		key = "Message"
	}
	body := map[string]string{key: e.Message}
	if e.Type != "" {
		body["Type"] = e.Type
	}
	if e.Reason != "" {
		body["Reason"] = e.Reason
	}
	return body
}

func newf(code string, status int, format string, args ...any) *Error {
	return &Error{Code: code, Status: status, Message: fmt.Sprintf(format, args...), Type: "User"}
}

// Validation is ValidationException (400), AWS's answer to a request that
// breaks a constraint of the model (pattern, length, range, enum, required)
// before any rule of Lambda is applied. Its body has no Type.
func Validation(format string, args ...any) *Error {
	return &Error{Code: "ValidationException", Status: http.StatusBadRequest, Message: fmt.Sprintf(format, args...)}
}

// InvalidParameter is InvalidParameterValueException (400).
func InvalidParameter(format string, args ...any) *Error {
	return newf("InvalidParameterValueException", http.StatusBadRequest, format, args...)
}

// NotFound is ResourceNotFoundException (404).
func NotFound(format string, args ...any) *Error {
	return newf("ResourceNotFoundException", http.StatusNotFound, format, args...)
}

// Conflict is ResourceConflictException (409).
func Conflict(format string, args ...any) *Error {
	return newf("ResourceConflictException", http.StatusConflict, format, args...)
}

// PreconditionFailed is PreconditionFailedException (412), for RevisionId mismatches.
func PreconditionFailed(format string, args ...any) *Error {
	return newf("PreconditionFailedException", http.StatusPreconditionFailed, format, args...)
}

// RevisionMismatch is the PreconditionFailedException Lambda gives for a stale RevisionId.
func RevisionMismatch() *Error {
	return PreconditionFailed("The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id")
}

// NoPublishedVersion is NoPublishedVersionException (400).
func NoPublishedVersion(format string, args ...any) *Error {
	return newf("NoPublishedVersionException", http.StatusBadRequest, format, args...)
}

// RequestTooLarge is RequestTooLargeException (413).
func RequestTooLarge(format string, args ...any) *Error {
	return newf("RequestTooLargeException", http.StatusRequestEntityTooLarge, format, args...)
}

// InvalidRequestContent is InvalidRequestContentException (400).
func InvalidRequestContent(format string, args ...any) *Error {
	return newf("InvalidRequestContentException", http.StatusBadRequest, format, args...)
}

// TooManyRequests is the 429 throttle, with its Reason.
func TooManyRequests(reason, format string, args ...any) *Error {
	e := newf("TooManyRequestsException", http.StatusTooManyRequests, format, args...)
	e.Reason = reason
	return e
}

// LimitExceeded is one of the model's *LimitExceededException (400).
func LimitExceeded(code, format string, args ...any) *Error {
	return newf(code, http.StatusBadRequest, format, args...)
}

// Service is ServiceException (500): Paddock's fault, never the caller's.
func Service(format string, args ...any) *Error {
	e := newf("ServiceException", http.StatusInternalServerError, format, args...)
	e.Type = "Service"
	return e
}
