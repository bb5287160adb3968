package control

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/paddockhq/paddock/internal/store"
)

// A URL id: 32 lowercase letters and digits, a new one each time.
func TestNewURLID(t *testing.T) {
	re := regexp.MustCompile(`^[a-z0-9]{32}$`)
	seen := map[string]bool{}
	for range 1000 {
		id := newURLID()
		if !re.MatchString(id) {
			t.Fatalf("id %q is not 32 lowercase letters and digits", id)
		}
		if seen[id] {
			t.Fatalf("id %q drawn twice", id)
		}
		seen[id] = true
	}
}

// AWS's errors for each operation on what does not exist or may not carry
// a URL, in AWS's texts (LocalStack's test_url_config_exceptions): Create
// and Update say the function does not exist, Get and Delete that the
// resource does not exist; versions and $LATEST taken from the function
// name are the model's ValidationException.
func TestFunctionURLConfigErrors(t *testing.T) {
	ctx := context.Background()
	st, s := openWithFunctions(t, t.TempDir(), "f")
	defer st.Close()
	if _, err := s.PublishVersion(ctx, "f", PublishVersionInput{}); err != nil {
		t.Fatal(err)
	}
	v1 := "1"
	if _, err := s.CreateAlias(ctx, "f", AliasInput{Name: "live", Version: &v1}); err != nil {
		t.Fatal(err)
	}
	const (
		noFunction = "Function does not exist"
		noResource = "The resource you requested does not exist."
		pattern    = `' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: ((?!^\d+$)^[0-9a-zA-Z-_]+$)`
	)
	create := func(fn, q string) error {
		_, err := s.CreateFunctionUrlConfig(ctx, fn, q, URLConfigInput{AuthType: "NONE"})
		return err
	}
	update := func(fn, q string) error {
		_, err := s.UpdateFunctionUrlConfig(ctx, fn, q, URLConfigInput{AuthType: "AWS_IAM"})
		return err
	}
	get := func(fn, q string) error { _, err := s.GetFunctionUrlConfig(fn, q); return err }
	del := func(fn, q string) error { return s.DeleteFunctionUrlConfig(ctx, fn, q) }
	list := func(fn, _ string) error { _, _, err := s.ListFunctionUrlConfigs(fn, "", 0); return err }
	for _, tc := range []struct {
		name      string
		op        func(fn, q string) error
		fn, q     string
		code, msg string
	}{
		{"Create of a missing function", create, "ghost", "", "ResourceNotFoundException", noFunction},
		{"Create of a missing alias", create, "f", "v1", "ResourceNotFoundException", noFunction},
		{"Create of a version", create, "f", "1", "ValidationException", "1 validation error detected: Value '1" + pattern},
		{"Create of $LATEST", create, "f", Latest, "ValidationException", "1 validation error detected: Value '$LATEST" + pattern},
		{"Create of $LATEST.PUBLISHED", create, "f", LatestPublished, "ValidationException", "1 validation error detected: Value '$LATEST.PUBLISHED" + pattern},
		{"Update of a missing function", update, "ghost", "", "ResourceNotFoundException", noFunction},
		{"Update of a missing alias", update, "f", "v1", "ResourceNotFoundException", noFunction},
		{"Update without a config", update, "f", "", "ResourceNotFoundException", noResource},
		{"Update of an alias without a config", update, "f", "live", "ResourceNotFoundException", noResource},
		{"Update of a version", update, "f", "2", "ValidationException", "1 validation error detected: Value '2" + pattern},
		{"Get of a missing function", get, "ghost", "", "ResourceNotFoundException", noResource},
		{"Get of a missing alias", get, "f", "v1", "ResourceNotFoundException", noResource},
		{"Get without a config", get, "f", "", "ResourceNotFoundException", noResource},
		{"Get of $LATEST", get, "f", Latest, "ValidationException", "1 validation error detected: Value '$LATEST" + pattern},
		{"Delete of a missing function", del, "ghost", "", "ResourceNotFoundException", noResource},
		{"Delete of a missing alias", del, "f", "v1", "ResourceNotFoundException", noResource},
		{"Delete without a config", del, "f", "", "ResourceNotFoundException", noResource},
		{"Delete of a version", del, "f", "1", "ValidationException", "1 validation error detected: Value '1" + pattern},
		{"List of a missing function", list, "ghost", "", "ResourceNotFoundException", noFunction},
	} {
		wantErr(t, tc.name, tc.op(tc.fn, tc.q), tc.code, tc.msg)
	}
}

// TestFunctionURLConfigLifecycle: Create answers what was given, a second
// Create conflicts with AWS's text, Update changes only what it is given
// and moves LastModifiedTime, the id stays for the config's life, List
// pages in the order of FunctionArn, configs survive a restart and a
// Reload, and go with their alias or function; FunctionURLByID follows
// every change.
func TestFunctionURLConfigLifecycle(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, s := openWithFunctions(t, dir, "f", "g")
	defer func() { st.Close() }()
	if _, err := s.PublishVersion(ctx, "f", PublishVersionInput{}); err != nil {
		t.Fatal(err)
	}
	v1 := "1"
	for _, a := range []string{"live", "beta"} {
		if _, err := s.CreateAlias(ctx, "f", AliasInput{Name: a, Version: &v1}); err != nil {
			t.Fatal(err)
		}
	}
	const arn = "arn:aws:lambda:us-east-1:000000000000:function:"

	before := time.Now()
	c, err := s.CreateFunctionUrlConfig(ctx, "f", "", URLConfigInput{AuthType: "NONE"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Function != "f" || c.Qualifier != "" || c.AuthType != "NONE" || c.Cors != nil || c.InvokeMode != "" ||
		c.Created.Before(before.Add(-time.Second)) || !c.Modified.Equal(c.Created) || c.EffectiveInvokeMode() != InvokeBuffered {
		t.Fatalf("Create: %+v", c)
	}
	id := c.ID
	_, err = s.CreateFunctionUrlConfig(ctx, "f", "", URLConfigInput{AuthType: "AWS_IAM"})
	wantErr(t, "a second Create", err, "ResourceConflictException",
		"Failed to create function url config for [functionArn = "+arn+"f]. Error message:  FunctionUrlConfig exists for this Lambda function")

	cors := &CorsInput{AllowOrigins: []string{"https://example.com"}, AllowMethods: []string{"GET"}, MaxAge: intp(300), AllowCredentials: boolp(true)}
	a, err := s.CreateFunctionUrlConfig(ctx, "f", "live", URLConfigInput{AuthType: "AWS_IAM", Cors: cors, InvokeMode: InvokeResponseStream})
	if err != nil {
		t.Fatal(err)
	}
	if a.ID == id {
		t.Fatal("two configs share an id")
	}
	_, err = s.CreateFunctionUrlConfig(ctx, "f", "live", URLConfigInput{AuthType: "NONE"})
	wantErr(t, "a second Create of the alias", err, "ResourceConflictException",
		"Failed to create function url config for [functionArn = "+arn+"f:live]. Error message:  FunctionUrlConfig exists for this Lambda function")

	// FunctionURLByID: the data plane's view.
	v, ok := s.FunctionURLByID(a.ID)
	want := FunctionURLConfig{ID: a.ID, Function: "f", Qualifier: "live", FunctionARN: arn + "f:live", AuthType: "AWS_IAM",
		InvokeMode: InvokeResponseStream, Created: a.Created, Modified: a.Modified}
	if !ok || v.Cors == nil || v.Cors.MaxAge != 300 || !v.Cors.AllowCredentials || v.Cors.AllowOrigins[0] != "https://example.com" {
		t.Fatalf("FunctionURLByID(alias): %+v %v", v, ok)
	}
	v.Cors = nil
	if v != want {
		t.Fatalf("FunctionURLByID(alias):\n got %+v\nwant %+v", v, want)
	}
	if v, ok := s.FunctionURLByID(id); !ok || v.FunctionARN != arn+"f" || v.InvokeMode != InvokeBuffered || v.Cors != nil {
		t.Fatalf("FunctionURLByID(unqualified): %+v %v", v, ok)
	}
	if _, ok := s.FunctionURLByID("nosuchid"); ok {
		t.Fatal("FunctionURLByID of an unknown id found one")
	}

	// Update: each member given replaces its own; the others stay.
	time.Sleep(2 * time.Millisecond)
	for _, tc := range []struct {
		name string
		in   URLConfigInput
		auth string
		cors *CorsInput
		mode string
	}{
		{"nothing", URLConfigInput{}, "NONE", nil, ""},
		{"AuthType", URLConfigInput{AuthType: "AWS_IAM"}, "AWS_IAM", nil, ""},
		{"Cors", URLConfigInput{Cors: &CorsInput{AllowOrigins: []string{"*"}}}, "AWS_IAM", &CorsInput{AllowOrigins: []string{"*"}}, ""},
		{"InvokeMode", URLConfigInput{InvokeMode: InvokeResponseStream}, "AWS_IAM", &CorsInput{AllowOrigins: []string{"*"}}, InvokeResponseStream},
		{"an empty Cors replaces the whole Cors", URLConfigInput{Cors: &CorsInput{}}, "AWS_IAM", &CorsInput{}, InvokeResponseStream},
		{"InvokeMode back", URLConfigInput{InvokeMode: InvokeBuffered, AuthType: "NONE"}, "NONE", &CorsInput{}, InvokeBuffered},
	} {
		prev, _ := s.GetFunctionUrlConfig("f", "")
		u, err := s.UpdateFunctionUrlConfig(ctx, "f", "", tc.in)
		if err != nil {
			t.Fatalf("Update %s: %v", tc.name, err)
		}
		got, _ := s.GetFunctionUrlConfig("f", "")
		for _, c := range []*URLConfig{u, got} {
			if c.ID != id || c.AuthType != tc.auth || c.InvokeMode != tc.mode || (c.Cors == nil) != (tc.cors == nil) ||
				(c.Cors != nil && len(c.Cors.AllowOrigins) != len(tc.cors.AllowOrigins)) ||
				!c.Created.Equal(prev.Created) || !c.Modified.After(prev.Modified) {
				t.Fatalf("Update %s: %+v (before %+v)", tc.name, c, prev)
			}
		}
		if v, _ := s.FunctionURLByID(id); v.AuthType != tc.auth || !v.Modified.Equal(u.Modified) {
			t.Fatalf("Update %s: FunctionURLByID %+v", tc.name, v)
		}
		time.Sleep(time.Millisecond)
	}

	// List: by FunctionArn, paged.
	if _, err := s.CreateFunctionUrlConfig(ctx, "f", "beta", URLConfigInput{AuthType: "NONE"}); err != nil {
		t.Fatal(err)
	}
	all, next, err := s.ListFunctionUrlConfigs("f", "", 0)
	if err != nil || next != "" || len(all) != 3 || all[0].Qualifier != "" || all[1].Qualifier != "beta" || all[2].Qualifier != "live" {
		t.Fatalf("List: %+v %q %v", all, next, err)
	}
	var paged []string
	for marker := ""; ; {
		cs, next, err := s.ListFunctionUrlConfigs("f", marker, 1)
		if err != nil || len(cs) != 1 {
			t.Fatalf("List after %q: %+v %v", marker, cs, err)
		}
		paged = append(paged, cs[0].Qualifier)
		if next == "" {
			break
		}
		marker = next
	}
	if len(paged) != 3 || paged[0] != "" || paged[1] != "beta" || paged[2] != "live" {
		t.Fatalf("List one a page: %q", paged)
	}
	if cs, _, err := s.ListFunctionUrlConfigs("g", "", 0); err != nil || len(cs) != 0 {
		t.Fatalf("List of a function without configs: %+v %v", cs, err)
	}

	// A restart keeps them, ids and all; so does a Reload.
	st.Close()
	if st, err = store.OpenEmbedded(ctx, dir); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(ctx, st, Options{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if c, err := s.GetFunctionUrlConfig("f", ""); err != nil || c.ID != id || c.InvokeMode != InvokeBuffered {
		t.Fatalf("after a restart: %+v %v", c, err)
	}
	if v, ok := s.FunctionURLByID(a.ID); !ok || v.Qualifier != "live" || v.Cors == nil || v.Cors.MaxAge != 300 {
		t.Fatalf("FunctionURLByID after a restart: %+v %v", v, ok)
	}

	// Deleting the unqualified function's config leaves the aliases'.
	if err := s.DeleteFunctionUrlConfig(ctx, "f", ""); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.FunctionURLByID(id); ok {
		t.Fatal("a deleted config is still found by its id")
	}
	if _, err := s.GetFunctionUrlConfig("f", "live"); err != nil {
		t.Fatalf("the alias's config went with the function's: %v", err)
	}
	// Recreated: a new id.
	c, err = s.CreateFunctionUrlConfig(ctx, "f", "", URLConfigInput{AuthType: "NONE"})
	if err != nil || c.ID == id {
		t.Fatalf("recreated: %+v %v (old id %s)", c, err, id)
	}

	// An alias's config goes with the alias; a new alias of the name has none.
	if err := s.DeleteAlias(ctx, "f", "live"); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.FunctionURLByID(a.ID); ok {
		t.Fatal("a deleted alias's URL is still found by its id")
	}
	if _, err := s.CreateAlias(ctx, "f", AliasInput{Name: "live", Version: &v1}); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetFunctionUrlConfig("f", "live")
	wantErr(t, "Get of a recreated alias", err, "ResourceNotFoundException", "The resource you requested does not exist.")

	// The function's configs go with it, and a new function of the name has none.
	beta, _ := s.GetFunctionUrlConfig("f", "beta")
	if _, err := s.DeleteFunction(ctx, "f", ""); err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{c.ID, beta.ID} {
		if _, ok := s.FunctionURLByID(gone); ok {
			t.Fatalf("URL %s outlived its function", gone)
		}
	}
	if err := s.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if m := *s.functionURLs.Load(); len(m) != 0 {
		t.Fatalf("after the function's deletion and a Reload: %v", m)
	}
}
