package awserr

import (
	"maps"
	"testing"
)

func TestBody(t *testing.T) {
	tests := []struct {
		err  *Error
		want map[string]string
	}{
		{NotFound("Function not found: x"), map[string]string{"Type": "User", "Message": "Function not found: x"}},
		{InvalidParameter("bad"), map[string]string{"Type": "User", "message": "bad"}},
		{Validation("1 validation error detected: v"), map[string]string{"message": "1 validation error detected: v"}},
		{NoPublishedVersion("none"), map[string]string{"Type": "User", "Message": "none"}},
		{Service("boom"), map[string]string{"Type": "Service", "Message": "boom"}},
		{TooManyRequests("ReservedFunctionConcurrentInvocationLimitExceeded", "Rate Exceeded."),
			map[string]string{"Type": "User", "message": "Rate Exceeded.", "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded"}},
		{&Error{Code: "UnknownOperationException", Status: 404, Message: "no"}, map[string]string{"message": "no"}},
		{&Error{Code: "AccessDeniedException", Status: 403, Message: "denied"}, map[string]string{"Message": "denied"}},
	}
	for _, tt := range tests {
		if got := tt.err.Body(); !maps.Equal(got, tt.want) {
			t.Errorf("%s: Body() = %v, want %v", tt.err.Code, got, tt.want)
		}
	}
}
