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
