package main

import (
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"regexp"
	"time"
)

// SPDX 2.3 JSON (spdx.github.io/spdx-spec/v2.3), the subset a module graph
// fills: one package per Go module compiled into the binary, with its
// version and a purl, and the toolchain.
type spdxDocument struct {
	SPDXVersion       string             `json:"spdxVersion"`
	DataLicense       string             `json:"dataLicense"`
	SPDXID            string             `json:"SPDXID"`
	Name              string             `json:"name"`
	DocumentNamespace string             `json:"documentNamespace"`
	CreationInfo      spdxCreationInfo   `json:"creationInfo"`
	Packages          []spdxPackage      `json:"packages"`
	Relationships     []spdxRelationship `json:"relationships"`
}

type spdxCreationInfo struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
}

type spdxPackage struct {
	Name             string       `json:"name"`
	SPDXID           string       `json:"SPDXID"`
	VersionInfo      string       `json:"versionInfo"`
	DownloadLocation string       `json:"downloadLocation"`
	FilesAnalyzed    bool         `json:"filesAnalyzed"`
	ExternalRefs     []spdxExtRef `json:"externalRefs,omitempty"`
	Comment          string       `json:"comment,omitempty"`
}

type spdxExtRef struct {
	ReferenceCategory string `json:"referenceCategory"`
	ReferenceType     string `json:"referenceType"`
	ReferenceLocator  string `json:"referenceLocator"`
}

type spdxRelationship struct {
	Element string `json:"spdxElementId"`
	Type    string `json:"relationshipType"`
	Related string `json:"relatedSpdxElement"`
}

var spdxIDUnsafe = regexp.MustCompile(`[^A-Za-z0-9.-]`)

// sbom describes the binary's modules, as `go version -m` lists them; the
// main module, which Go records as "(devel)" outside a module download,
// takes version. The namespace names the image digest, so it is as
// reproducible as the image.
func sbom(binary, version, imageName, imageDigest string, created time.Time) ([]byte, error) {
	info, err := buildinfo.ReadFile(binary)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", binary, err)
	}
	pkg := func(path, version, sum string) spdxPackage {
		p := spdxPackage{
			Name:             path,
			SPDXID:           "SPDXRef-Package-" + spdxIDUnsafe.ReplaceAllString(path+"-"+version, "-"),
			VersionInfo:      version,
			DownloadLocation: "NOASSERTION",
			ExternalRefs: []spdxExtRef{{
				ReferenceCategory: "PACKAGE-MANAGER", ReferenceType: "purl",
				ReferenceLocator: "pkg:golang/" + path + "@" + version,
			}},
		}
		if sum != "" {
			p.Comment = "go.sum " + sum
		}
		return p
	}
	mainVersion := info.Main.Version
	if mainVersion == "(devel)" && version != "" {
		mainVersion = version
	}
	main := pkg(info.Main.Path, mainVersion, "")
	doc := spdxDocument{
		SPDXVersion: "SPDX-2.3", DataLicense: "CC0-1.0", SPDXID: "SPDXRef-DOCUMENT",
		Name:              imageName,
		DocumentNamespace: "https://" + info.Main.Path + "/spdx/" + imageDigest,
		CreationInfo: spdxCreationInfo{
			Created:  created.UTC().Format(time.RFC3339),
			Creators: []string{"Tool: hack/image", "Tool: " + info.GoVersion},
		},
		Packages:      []spdxPackage{main},
		Relationships: []spdxRelationship{{"SPDXRef-DOCUMENT", "DESCRIBES", main.SPDXID}},
	}
	stdlib := pkg("stdlib", info.GoVersion, "")
	doc.Packages = append(doc.Packages, stdlib)
	doc.Relationships = append(doc.Relationships, spdxRelationship{main.SPDXID, "DEPENDS_ON", stdlib.SPDXID})
	for _, m := range info.Deps {
		if m.Replace != nil {
			m = m.Replace
		}
		p := pkg(m.Path, m.Version, m.Sum)
		doc.Packages = append(doc.Packages, p)
		doc.Relationships = append(doc.Relationships, spdxRelationship{main.SPDXID, "DEPENDS_ON", p.SPDXID})
	}
	return json.MarshalIndent(doc, "", "  ")
}
