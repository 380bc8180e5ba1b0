{{- define "banyan.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "banyan.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "banyan.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "banyan.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: banyan
{{- end -}}

{{/* Selector labels of one component: control-plane, edge, postgresql, redis. */}}
{{- define "banyan.selectorLabels" -}}
app.kubernetes.io/name: {{ include "banyan.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "banyan.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* Where the control plane keeps shared state: postgresql (bundled), external, or embedded. */}}
{{- define "banyan.store" -}}
{{- if .Values.postgresql.enabled -}}postgresql
{{- else if .Values.externalPostgresql.existingSecret -}}external
{{- else -}}embedded
{{- end -}}
{{- end -}}

{{- define "banyan.postgresUrlSecret" -}}
{{- if .Values.postgresql.enabled -}}{{ include "banyan.fullname" . }}-postgresql{{- else -}}{{ .Values.externalPostgresql.existingSecret }}{{- end -}}
{{- end -}}

{{- define "banyan.postgresUrlKey" -}}
{{- if .Values.postgresql.enabled -}}url{{- else -}}{{ .Values.externalPostgresql.key }}{{- end -}}
{{- end -}}

{{- define "banyan.caPassphraseSecret" -}}
{{- default (printf "%s-ca-passphrase" (include "banyan.fullname" .)) .Values.caPassphrase.existingSecret -}}
{{- end -}}

{{- define "banyan.adminTokensSecret" -}}
{{- if .Values.adminTokens.existingSecret -}}{{ .Values.adminTokens.existingSecret }}{{- else if .Values.adminTokens.tokens -}}{{ include "banyan.fullname" . }}-admin-tokens{{- end -}}
{{- end -}}

{{/* A value kept across upgrades: the given one, else the one already in the Secret, else a new random one. */}}
{{- define "banyan.secretValue" -}}
{{- if .value -}}
{{- .value -}}
{{- else -}}
{{- $existing := lookup "v1" "Secret" .namespace .secret -}}
{{- if and $existing (index $existing.data .key) -}}
{{- index $existing.data .key | b64dec -}}
{{- else -}}
{{- randAlphaNum 32 -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "banyan.validate" -}}
{{- if and (gt (int .Values.replicaCount) 1) (eq (include "banyan.store" .) "embedded") -}}
{{- fail "replicaCount > 1 needs PostgreSQL: set postgresql.enabled=true (trial) or externalPostgresql.existingSecret" -}}
{{- end -}}
{{- if and .Values.postgresql.enabled .Values.externalPostgresql.existingSecret -}}
{{- fail "postgresql.enabled and externalPostgresql.existingSecret are exclusive: pick one" -}}
{{- end -}}
{{- if and .Values.tls.enabled (not .Values.tls.secretName) -}}
{{- fail "tls.enabled needs tls.secretName (a Secret with tls.crt, tls.key and, for tls.clientCA, ca.crt)" -}}
{{- end -}}
{{- if and .Values.edge.enabled .Values.tls.enabled (not .Values.edge.tlsSecretName) -}}
{{- fail "edge.enabled with tls.enabled needs edge.tlsSecretName (ca.crt to verify Banyan; tls.crt/tls.key with tls.clientCA)" -}}
{{- end -}}
{{- if and .Values.redis.enabled (or .Values.externalRedis.url .Values.externalRedis.existingSecret) -}}
{{- fail "redis.enabled and externalRedis are exclusive: pick one" -}}
{{- end -}}
{{- if and .Values.edge.enabled (eq (int .Values.edge.probePort) (int .Values.edge.adminPort)) -}}
{{- fail "edge.probePort and edge.adminPort cannot be the same port" -}}
{{- end -}}
{{- end -}}

{{/*
Bytes of a Kubernetes memory quantity (512Mi, 1Gi, 500M, 536870912), as an integer string; fails on
anything else. Used for the edge's overload manager heap (max_heap_size_bytes).
*/}}
{{- define "banyan.bytes" -}}
{{- $q := . -}}
{{- if or (kindIs "float64" $q) (kindIs "int" $q) (kindIs "int64" $q) -}}
{{- printf "%d" (int64 $q) -}}
{{- else -}}
{{- $q = toString $q -}}
{{- $num := regexFind "^[0-9]+(\\.[0-9]+)?" $q -}}
{{- $unit := trimPrefix $num $q -}}
{{- $units := dict "" 1 "k" 1000 "M" 1000000 "G" 1000000000 "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 -}}
{{- if or (not $num) (not (hasKey $units $unit)) -}}
{{- fail (printf "%q is not a memory size (bytes, or a number with k/M/G/Ki/Mi/Gi, e.g. 480Mi)" $q) -}}
{{- end -}}
{{- printf "%d" (int64 (floor (mulf (float64 $num) (get $units $unit)))) -}}
{{- end -}}
{{- end -}}

{{/*
The edge Envoy's heap limit (FixedHeapConfig.max_heap_size_bytes, as `banyan bootstrap --max-heap`):
edge.overload.maxHeap, else 15/16 of edge.resources.limits.memory (480Mi for 512Mi), so Envoy sheds
load before the kubelet kills it.
*/}}
{{- define "banyan.edgeMaxHeapBytes" -}}
{{- $o := .Values.edge.overload -}}
{{- if $o.maxHeap -}}
{{- include "banyan.bytes" $o.maxHeap -}}
{{- else -}}
{{- $limit := dig "limits" "memory" "" (.Values.edge.resources | default dict) -}}
{{- if not $limit -}}
{{- fail "edge.overload.enabled needs edge.overload.maxHeap or edge.resources.limits.memory (the heap limit is derived from it)" -}}
{{- end -}}
{{- printf "%d" (div (int64 (include "banyan.bytes" $limit)) 16 | mul 15) -}}
{{- end -}}
{{- end -}}
