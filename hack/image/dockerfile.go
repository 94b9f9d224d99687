package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// runtimeSpec is what the Dockerfile's final stage says about the running
// container. The image built here reads it from the Dockerfile, so the two
// images cannot drift apart.
type runtimeSpec struct {
	User       string
	Entrypoint []string
	// Labels' values may name build arguments as ${NAME}.
	Labels map[string]string
}

// readDockerfile parses USER, ENTRYPOINT (exec form) and LABEL k=v lines of
// the last stage. It knows the subset of the syntax this repository's
// Dockerfile uses and rejects the rest of those instructions' forms.
func readDockerfile(path string) (runtimeSpec, error) {
	f, err := os.Open(path)
	if err != nil {
		return runtimeSpec{}, err
	}
	defer f.Close()
	var spec runtimeSpec
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		instr, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSpace(rest)
		switch strings.ToUpper(instr) {
		case "FROM":
			spec = runtimeSpec{Labels: map[string]string{}}
		case "USER":
			spec.User = rest
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(rest), &spec.Entrypoint); err != nil {
				return runtimeSpec{}, fmt.Errorf("%s: ENTRYPOINT must be in exec form: %w", path, err)
			}
		case "LABEL":
			k, v, ok := strings.Cut(rest, "=")
			if !ok || strings.ContainsAny(k, " \t") {
				return runtimeSpec{}, fmt.Errorf("%s: want one LABEL key=value per line, got %q", path, line)
			}
			spec.Labels[k] = strings.Trim(v, `"`)
		}
	}
	if err := sc.Err(); err != nil {
		return runtimeSpec{}, err
	}
	if spec.User == "" || len(spec.Entrypoint) == 0 {
		return runtimeSpec{}, fmt.Errorf("%s: the last stage needs USER and ENTRYPOINT", path)
	}
	return spec, nil
}

// expandLabels substitutes ${NAME} build arguments.
func expandLabels(labels map[string]string, args map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(labels))
	for k, v := range labels {
		var missing []string
		out[k] = os.Expand(v, func(name string) string {
			val, ok := args[name]
			if !ok {
				missing = append(missing, name)
			}
			return val
		})
		if len(missing) > 0 {
			return nil, fmt.Errorf("label %s names unknown build arguments %v", k, missing)
		}
	}
	return out, nil
}
