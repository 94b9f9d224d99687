{{/* Chart name, at most 63 characters. */}}
{{- define "aliyun-cas-issuer.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name of the resources, at most 63 characters. */}}
{{- define "aliyun-cas-issuer.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "aliyun-cas-issuer.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every resource. */}}
{{- define "aliyun-cas-issuer.labels" -}}
helm.sh/chart: {{ include "aliyun-cas-issuer.chart" . }}
{{ include "aliyun-cas-issuer.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: aliyun-cas-issuer
{{- end }}

{{/* Labels that select the controller's pods. */}}
{{- define "aliyun-cas-issuer.selectorLabels" -}}
app.kubernetes.io/name: {{ include "aliyun-cas-issuer.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end }}

{{- define "aliyun-cas-issuer.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "aliyun-cas-issuer.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "aliyun-cas-issuer.leaderElectionNamespace" -}}
{{- default .Release.Namespace .Values.leaderElection.namespace }}
{{- end }}

{{/* The container image: repository@digest, or repository:tag. */}}
{{- define "aliyun-cas-issuer.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The subject every binding of the controller's permissions names. */}}
{{- define "aliyun-cas-issuer.subject" -}}
- kind: ServiceAccount
  name: {{ include "aliyun-cas-issuer.serviceAccountName" . }}
  namespace: {{ .Release.Namespace }}
{{- end }}

{{/* Namespaces where the controller reads issuer Secrets. */}}
{{- define "aliyun-cas-issuer.secretNamespaces" -}}
{{- $ns := list .Values.clusterResourceNamespace }}
{{- range .Values.rbac.issuerNamespaces }}
{{- $ns = append $ns . }}
{{- end }}
{{- $ns | uniq | join "," }}
{{- end }}
