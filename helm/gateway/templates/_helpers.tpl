{{- define "gateway.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "gateway.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "gateway.analystSelectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}-analysts
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "gateway.analystLabels" -}}
{{ include "gateway.analystSelectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "gateway.labels" -}}
{{ include "gateway.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "gateway.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "gateway.secretName" -}}
{{- if .Values.secrets.existingSecret -}}
{{ .Values.secrets.existingSecret }}
{{- else -}}
{{ include "gateway.fullname" . }}-secrets
{{- end -}}
{{- end -}}

{{- define "gateway.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{ .Values.serviceAccount.name | default (include "gateway.fullname" .) }}
{{- else -}}
{{ .Values.serviceAccount.name | default "default" }}
{{- end -}}
{{- end -}}

{{/* The DSNs every gateway container reads from the Secret (the migration Job needs only these). */}}
{{- define "gateway.dsnEnv" -}}
- name: GATEWAY_DATABASE_URL
  valueFrom:
    secretKeyRef: {name: {{ include "gateway.secretName" . }}, key: {{ .Values.secrets.keys.databaseUrl }}}
- name: GATEWAY_AUDIT_URL
  valueFrom:
    secretKeyRef: {name: {{ include "gateway.secretName" . }}, key: {{ .Values.secrets.keys.auditUrl }}}
- name: GATEWAY_ANALYSIS_URL
  valueFrom:
    secretKeyRef: {name: {{ include "gateway.secretName" . }}, key: {{ .Values.secrets.keys.analysisUrl }}, optional: true}
{{- end -}}

{{/* The volumes every gateway pod mounts (the server and the nightly refresh): settings, the stores'
     manifest, the reviewed policies, the key files, the data directory and a scratch /tmp. */}}
{{- define "gateway.volumes" -}}
- name: settings
  configMap:
    name: {{ include "gateway.fullname" . }}-settings
    items: [{key: settings.yaml, path: settings.yaml}]
- name: stores
  configMap:
    name: {{ include "gateway.fullname" . }}-settings
    items: [{key: stores.json, path: stores.json}]
- name: policies
  configMap:
    name: {{ include "gateway.fullname" . }}-policies
    items:
    {{- range $path, $_ := .Files.Glob "policies/**" }}
    {{- $file := trimPrefix "policies/" $path }}
    {{- if ne $file "demo-users.yaml" }}
      - {key: {{ $file | replace "/" "__" | quote }}, path: {{ $file | quote }}}
    {{- end }}
    {{- end }}
- name: keys
  secret:
    secretName: {{ include "gateway.secretName" . }}
    defaultMode: 0400
    items:
      - {key: {{ .Values.secrets.keys.auditCheckpointKey }}, path: {{ .Values.secrets.keys.auditCheckpointKey }}}
      - {key: {{ .Values.secrets.keys.pseudonymKey }}, path: {{ .Values.secrets.keys.pseudonymKey }}}
      - {key: {{ .Values.secrets.keys.sessionSecret }}, path: {{ .Values.secrets.keys.sessionSecret }}}
      {{- if .Values.gateway.oidc.clientId }}
      - {key: {{ .Values.secrets.keys.oidcClientSecret }}, path: {{ .Values.secrets.keys.oidcClientSecret }}}
      {{- end }}
      {{- if .Values.gateway.stores }}
      - {key: {{ .Values.secrets.keys.pgpass }}, path: {{ .Values.secrets.keys.pgpass }}}
      {{- end }}
- name: data
  {{- if .Values.persistence.enabled }}
  persistentVolumeClaim:
    claimName: {{ .Values.persistence.existingClaim | default (printf "%s-data" (include "gateway.fullname" .)) }}
  {{- else }}
  emptyDir: {}
  {{- end }}
- name: tmp
  emptyDir: {sizeLimit: 2Gi}
{{- end }}

{{- define "gateway.volumeMounts" -}}
- {name: settings, mountPath: /etc/gateway/settings, readOnly: true}
- {name: stores, mountPath: /var/lib/gateway/stores.json, subPath: stores.json, readOnly: true}
- {name: policies, mountPath: /etc/gateway/policies, readOnly: true}
- {name: keys, mountPath: /etc/gateway/keys, readOnly: true}
- {name: data, mountPath: /var/lib/gateway}
- {name: tmp, mountPath: /tmp}
{{- end }}
