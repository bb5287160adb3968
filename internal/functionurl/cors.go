package functionurl

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Cors is a function URL's CORS settings (the model's Cors).
type Cors struct {
	AllowCredentials                                        bool
	AllowHeaders, AllowMethods, AllowOrigins, ExposeHeaders []string
	MaxAge                                                  int
}

// IsPreflight says whether r is a CORS preflight: an OPTIONS request with
// an Origin and an Access-Control-Request-Method. A URL with CORS settings
// answers it itself, without invoking the function (Preflight); one
// without passes it to the function like any other request.
func IsPreflight(method string, h http.Header) bool {
	return method == http.MethodOptions && h.Get("Origin") != "" && h.Get("Access-Control-Request-Method") != ""
}

// Preflight is the headers of the answer (200, no body) to a preflight
// request with headers h: the CORS grants when the origin, the method and
// every requested header are allowed, none otherwise (the browser then
// refuses the request).
func (c *Cors) Preflight(h http.Header) http.Header {
	out := http.Header{}
	origin := h.Get("Origin")
	method := h.Get("Access-Control-Request-Method")
	requested := splitList(h.Values("Access-Control-Request-Headers"))
	if !c.allowsOrigin(origin) || !anyOrFold(c.AllowMethods, method) {
		return out
	}
	for _, r := range requested {
		if !anyOrFold(c.AllowHeaders, r) {
			return out
		}
	}
	c.grantOrigin(out, origin)
	if slices.Contains(c.AllowMethods, "*") {
		out.Set("Access-Control-Allow-Methods", method)
	} else {
		out.Set("Access-Control-Allow-Methods", strings.Join(c.AllowMethods, ","))
	}
	if len(requested) > 0 {
		if slices.Contains(c.AllowHeaders, "*") {
			out.Set("Access-Control-Allow-Headers", strings.Join(requested, ","))
		} else {
			out.Set("Access-Control-Allow-Headers", strings.Join(c.AllowHeaders, ","))
		}
	}
	if c.MaxAge > 0 {
		out.Set("Access-Control-Max-Age", strconv.Itoa(c.MaxAge))
	}
	return out
}

// Apply sets the CORS headers of the answer to a request with headers h
// on resp: the URL's settings replace whatever Access-Control-* headers
// the function returned, as on Lambda, and an origin that is not allowed
// gets none.
func (c *Cors) Apply(h http.Header, resp http.Header) {
	for k := range resp {
		if strings.HasPrefix(strings.ToLower(k), "access-control-") {
			resp.Del(k)
		}
	}
	origin := h.Get("Origin")
	if origin == "" || !c.allowsOrigin(origin) {
		return
	}
	c.grantOrigin(resp, origin)
	if len(c.ExposeHeaders) > 0 {
		resp.Set("Access-Control-Expose-Headers", strings.Join(c.ExposeHeaders, ","))
	}
}

// grantOrigin allows origin: "*" when every origin is allowed and no
// credentials are (a browser refuses "*" with credentials), else the
// origin itself, with Vary: Origin so that caches keep answers apart.
func (c *Cors) grantOrigin(out http.Header, origin string) {
	if slices.Contains(c.AllowOrigins, "*") && !c.AllowCredentials {
		out.Set("Access-Control-Allow-Origin", "*")
	} else {
		out.Set("Access-Control-Allow-Origin", origin)
		out.Add("Vary", "Origin")
	}
	if c.AllowCredentials {
		out.Set("Access-Control-Allow-Credentials", "true")
	}
}

func (c *Cors) allowsOrigin(origin string) bool {
	return origin != "" && anyOrFold(c.AllowOrigins, origin)
}

// anyOrFold says whether list holds "*" or v, case aside.
func anyOrFold(list []string, v string) bool {
	for _, x := range list {
		if x == "*" || strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}

// splitList splits comma-separated header values, trimmed, empties dropped.
func splitList(values []string) []string {
	var out []string
	for _, v := range values {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}
