{{/*
The chart's name, or nameOverride.
*/}}
{{- define "sshd-exporter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The resources' name: fullnameOverride, else <release>-<name>, or the release's name alone when it
already holds the chart's name. 63 characters at most (DNS label).
*/}}
{{- define "sshd-exporter.fullname" -}}
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

{{/*
chart: name-version, for the helm.sh/chart label.
*/}}
{{- define "sshd-exporter.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The labels that select the DaemonSet's pods; never changed after install.
*/}}
{{- define "sshd-exporter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sshd-exporter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels of every resource.
*/}}
{{- define "sshd-exporter.labels" -}}
helm.sh/chart: {{ include "sshd-exporter.chart" . }}
{{ include "sshd-exporter.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: exporter
app.kubernetes.io/part-of: sshd-exporter
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
The ServiceAccount's name.
*/}}
{{- define "sshd-exporter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "sshd-exporter.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The image: repository@digest, else repository:tag (the tag defaults to the appVersion).
*/}}
{{- define "sshd-exporter.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
The web config's Secret: the existing one, else the chart's.
*/}}
{{- define "sshd-exporter.webConfigSecret" -}}
{{- default (printf "%s-web-config" (include "sshd-exporter.fullname" .)) .Values.webConfig.existingSecret }}
{{- end }}

{{/*
http or https: how the exporter serves.
*/}}
{{- define "sshd-exporter.scheme" -}}
{{- if and .Values.webConfig.enabled .Values.webConfig.tls }}https{{ else }}http{{ end }}
{{- end }}

{{/*
A probe from the values, its httpGet's scheme set by how the exporter serves.
*/}}
{{- define "sshd-exporter.probe" -}}
{{- $probe := deepCopy .probe }}
{{- if hasKey $probe "httpGet" }}
{{- $_ := set $probe.httpGet "scheme" (include "sshd-exporter.scheme" .root | upper) }}
{{- end }}
{{- toYaml $probe }}
{{- end }}

{{/*
The pod's annotations: the web config's checksum (a changed Secret rolls the pods), AppArmor on
Kubernetes before 1.30, and podAnnotations.
*/}}
{{- define "sshd-exporter.podAnnotations" -}}
{{- if and .Values.webConfig.enabled (not .Values.webConfig.existingSecret) }}
checksum/web-config: {{ include (print .Template.BasePath "/web-config-secret.yaml") . | sha256sum }}
{{- end }}
{{- if and .Values.appArmorProfile (semverCompare "<1.30-0" .Capabilities.KubeVersion.Version) }}
{{- $profile := .Values.appArmorProfile }}
{{- $annotation := "runtime/default" }}
{{- if eq $profile.type "Unconfined" }}
{{- $annotation = "unconfined" }}
{{- else if eq $profile.type "Localhost" }}
{{- $annotation = printf "localhost/%s" $profile.localhostProfile }}
{{- end }}
container.apparmor.security.beta.kubernetes.io/sshd-exporter: {{ $annotation }}
{{- end }}
{{- with .Values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end }}
