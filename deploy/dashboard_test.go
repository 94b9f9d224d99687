package deploy_test

import (
	"encoding/json"
	"go/ast"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// exportedMetrics reads the metrics the binary registers from the
// controllers package's source: every prometheus.New*(...Opts{Name: ...})
// assigned to a variable that is passed to MustRegister. Histograms export
// _bucket, _sum and _count series, summaries _sum and _count.
func exportedMetrics(t *testing.T) (series map[string]string) {
	t.Helper()
	type metric struct{ name, kind string }
	byVar := map[string]metric{}
	var registered []string
	for _, f := range parseDir(t, "controllers") {
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.ValueSpec:
				for i, v := range n.Values {
					if m, ok := metricOf(v); ok && i < len(n.Names) {
						byVar[n.Names[i].Name] = metric(m)
					}
				}
			case *ast.CallExpr:
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "MustRegister" {
					for _, a := range n.Args {
						if id, ok := a.(*ast.Ident); ok {
							registered = append(registered, id.Name)
						}
					}
				}
			}
			return true
		})
	}
	series = map[string]string{}
	for _, v := range registered {
		m, ok := byVar[v]
		if !ok {
			t.Fatalf("MustRegister(%s): no prometheus.New* with a literal Name assigned to it in controllers/", v)
		}
		switch m.kind {
		case "Histogram":
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				series[m.name+s] = m.name
			}
		case "Summary":
			for _, s := range []string{"_sum", "_count", ""} {
				series[m.name+s] = m.name
			}
		default:
			series[m.name] = m.name
		}
	}
	if len(series) == 0 {
		t.Fatal("found no registered metrics in controllers/")
	}
	return series
}

// metricOf recognises prometheus.NewXxx[Vec](prometheus.XxxOpts{Name: "..."}).
func metricOf(e ast.Expr) (m struct{ name, kind string }, ok bool) {
	call, ok := e.(*ast.CallExpr)
	if !ok {
		return m, false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok || !strings.HasPrefix(sel.Sel.Name, "New") || len(call.Args) == 0 {
		return m, false
	}
	if pkg, ok := sel.X.(*ast.Ident); !ok || pkg.Name != "prometheus" {
		return m, false
	}
	m.kind = strings.TrimSuffix(strings.TrimPrefix(sel.Sel.Name, "New"), "Vec")
	lit, ok := call.Args[0].(*ast.CompositeLit)
	if !ok {
		return m, false
	}
	for _, el := range lit.Elts {
		kv, ok := el.(*ast.KeyValueExpr)
		if !ok {
			continue
		}
		if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "Name" {
			if bl, ok := kv.Value.(*ast.BasicLit); ok {
				m.name, _ = strconv.Unquote(bl.Value)
			}
		}
	}
	return m, m.name != ""
}

// selector finds the metric names of PromQL vector selectors (name{...})
// and of Grafana's label_values(name, label).
var selector = regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{|label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)`)

func queriedMetrics(query string) []string {
	var out []string
	for _, m := range selector.FindAllStringSubmatch(query, -1) {
		out = append(out, m[1]+m[2])
	}
	return out
}

// dashboardQueries are every PromQL expression and variable query of a
// Grafana dashboard, by where they are.
func dashboardQueries(t *testing.T, dash map[string]any) map[string]string {
	t.Helper()
	out := map[string]string{}
	panels, _ := dash["panels"].([]any)
	for _, p := range panels {
		p := p.(map[string]any)
		targets, _ := p["targets"].([]any)
		if len(targets) == 0 {
			t.Errorf("panel %q has no query", p["title"])
		}
		for _, tg := range targets {
			tg := tg.(map[string]any)
			out["panel "+p["title"].(string)+" "+tg["refId"].(string)] = tg["expr"].(string)
		}
	}
	tmpl, _ := dash["templating"].(map[string]any)
	vars, _ := tmpl["list"].([]any)
	for _, v := range vars {
		v := v.(map[string]any)
		if q, ok := v["query"].(map[string]any); ok {
			out["variable "+v["name"].(string)] = q["query"].(string)
		}
	}
	return out
}

func TestGrafanaDashboard(t *testing.T) {
	objs := mustHelm(t, releaseName, installNS, "metrics: {dashboard: {enabled: true, namespace: monitoring}}\n")
	cms := objs.ofKind("ConfigMap")
	if len(cms) != 1 {
		t.Fatalf("want one dashboard ConfigMap, got %v", objs.names())
	}
	var cm corev1.ConfigMap
	convert(t, cms[0], &cm)
	if cm.Labels["grafana_dashboard"] != "1" || cm.Namespace != "monitoring" {
		t.Errorf("ConfigMap %s/%s labels %v: want grafana_dashboard in namespace monitoring", cm.Namespace, cm.Name, cm.Labels)
	}
	raw, ok := cm.Data["aliyun-cas-issuer.json"]
	if !ok {
		t.Fatalf("ConfigMap keys %v: want aliyun-cas-issuer.json", cm.Data)
	}
	file, err := os.ReadFile(filepath.Join(root(t), chartRel, "files", "dashboards", "aliyun-cas-issuer.json"))
	if err != nil {
		t.Fatal(err)
	}
	if raw != strings.TrimRight(string(file), "\n") {
		t.Error("the ConfigMap does not hold the chart's dashboard file as is")
	}
	var dash map[string]any
	if err := json.Unmarshal([]byte(raw), &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	if dash["uid"] == "" || dash["title"] == "" {
		t.Error("dashboard without uid or title")
	}

	exported := exportedMetrics(t)
	queried := map[string]bool{}
	for where, q := range dashboardQueries(t, dash) {
		names := queriedMetrics(q)
		if len(names) == 0 {
			t.Errorf("%s queries no metric: %s", where, q)
		}
		for _, n := range names {
			base, ok := exported[n]
			if !ok {
				t.Errorf("%s queries %s, which the binary does not export", where, n)
			}
			queried[base] = true
		}
	}
	// A metric added to the binary gets a panel.
	var missing []string
	for _, base := range exported {
		if !queried[base] {
			missing = append(missing, base)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("metrics on no dashboard panel: %v", missing)
	}
}

// The checks above can fail: a query of an unknown metric is seen.
func TestQueriedMetricsSeesSelectors(t *testing.T) {
	got := queriedMetrics(`sum(rate(foo_total{job="x"}[5m])) / on() group_left bar_seconds_bucket {le="1"} + label_values(baz, job)`)
	if strings.Join(got, ",") != "foo_total,bar_seconds_bucket,baz" {
		t.Fatalf("queriedMetrics = %v", got)
	}
	if _, ok := exportedMetrics(t)["foo_total"]; ok {
		t.Fatal("foo_total counted as exported")
	}
}

// docs/install.md's metrics table lists exactly the metrics the binary exports.
func TestMetricsDocumented(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(root(t), "docs", "install.md"))
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_:]+)` \\|").FindAllStringSubmatch(string(doc), -1) {
		documented[m[1]] = true
	}
	exported := map[string]bool{}
	for _, base := range exportedMetrics(t) {
		exported[base] = true
		if !documented[base] {
			t.Errorf("%s is exported but not in docs/install.md's metrics table", base)
		}
	}
	for name := range documented {
		if !exported[name] {
			t.Errorf("docs/install.md's metrics table lists %s, which the binary does not export", name)
		}
	}
}
