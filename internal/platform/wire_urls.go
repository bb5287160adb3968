package platform

import (
	"cmp"
	"fmt"
	"net/url"
	"strings"

	"github.com/paddockhq/paddock/internal/lambdaapi"
)

// wireFunctionURLs tells the API where its function URLs are: under its
// own address (AdvertiseURL, else the listener's), and under
// FunctionURLDomain when the operator gave one.
func wireFunctionURLs(w *wiring) error {
	s := lambdaapi.URLSettings{Base: cmp.Or(w.opts.AdvertiseURL, w.p.Endpoint)}
	if d := w.opts.FunctionURLDomain; d != "" {
		if !strings.Contains(d, "://") {
			d = "http://" + d
		}
		u, err := url.Parse(d)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || strings.Trim(u.Path, "/") != "" {
			return fmt.Errorf("--function-url-domain %q is not a domain (with a port if needed) such as localhost:9400 or https://lambda.example.com", w.opts.FunctionURLDomain)
		}
		s.Domain = u
	}
	w.api.UseFunctionURLs(s)
	return nil
}
