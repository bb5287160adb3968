// Package awserr is the AWS Lambda API's error vocabulary: each error has
// the exception name clients switch on, the HTTP status the model gives it,
// and a message for people.
package awserr

import (
	"fmt"
	"net/http"
)

// Error is an error that reaches the API caller as {"Type","message"} with
// header X-Amzn-ErrorType: Code.
type Error struct {
	Code    string
	Status  int
	Message string
	Type    string // "User" (the default) or "Service"
	Reason  string // TooManyRequestsException's Reason
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func newf(code string, status int, format string, args ...any) *Error {
	return &Error{Code: code, Status: status, Message: fmt.Sprintf(format, args...), Type: "User"}
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
