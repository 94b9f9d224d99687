package bench

import (
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// apiRecorder stands between the issuer process and the API server and
// counts every write by method, resource and answer, e.g.
// "PATCH certificaterequests/status 200". The issuer's own metrics give the
// totals by method only; this says what the writes are.
type apiRecorder struct {
	srv  *http.Server
	addr string

	mu     sync.Mutex
	writes map[string]int
}

// startAPIRecorder listens on a local port and forwards to the API server
// of cfg with cfg's credentials.
func startAPIRecorder(cfg *rest.Config) (*apiRecorder, error) {
	upstream, err := url.Parse(cfg.Host)
	if err != nil {
		return nil, err
	}
	if upstream.Scheme == "" {
		upstream.Scheme = "https"
	}
	tr, err := rest.TransportFor(cfg)
	if err != nil {
		return nil, err
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(upstream)
			r.Out.Host = upstream.Host
		},
		Transport:     tr,
		FlushInterval: -1, // watches stream
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	a := &apiRecorder{addr: l.Addr().String(), writes: map[string]int{}}
	a.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
			rw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
			proxy.ServeHTTP(rw, r)
			a.mu.Lock()
			a.writes[fmt.Sprintf("%s %s %d", r.Method, resourceOf(r.URL.Path), rw.code)]++
			a.mu.Unlock()
		default:
			proxy.ServeHTTP(w, r)
		}
	})}
	go func() { _ = a.srv.Serve(l) }()
	return a, nil
}

// writeKubeconfig writes a kubeconfig that reaches the API server through
// the recorder.
func (a *apiRecorder) writeKubeconfig(path string) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["bench"] = &clientcmdapi.Cluster{Server: "http://" + a.addr}
	kc.AuthInfos["bench"] = &clientcmdapi.AuthInfo{}
	kc.Contexts["bench"] = &clientcmdapi.Context{Cluster: "bench", AuthInfo: "bench"}
	kc.CurrentContext = "bench"
	return clientcmd.WriteToFile(*kc, path)
}

// Writes is a copy of the counts so far.
func (a *apiRecorder) Writes() map[string]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return maps.Clone(a.writes)
}

func (a *apiRecorder) Close() error { return a.srv.Close() }

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// resourceOf names the resource (and subresource) of an API path:
// /apis/cert-manager.io/v1/namespaces/ns/certificaterequests/x/status is
// "certificaterequests/status".
func resourceOf(path string) string {
	p := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(p) >= 2 && p[0] == "api":
		p = p[2:]
	case len(p) >= 3 && p[0] == "apis":
		p = p[3:]
	default:
		return path
	}
	if len(p) >= 3 && p[0] == "namespaces" {
		p = p[2:]
	}
	switch len(p) {
	case 0:
		return "namespaces"
	case 1, 2:
		return p[0]
	}
	return p[0] + "/" + p[2]
}
