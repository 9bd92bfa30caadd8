{{- /*
One gateway Deployment: the one that serves everyone (deployment.yaml) and, when `analysts.enabled`,
the analyst replica (deployment-analysts.yaml), which differ only in name, labels, replicas, resources
and the arguments added to `gateway serve`. Called with a dict: root (the chart's context), name,
labels, selector, autoscaled, replicas, resources, extraArgs.
*/ -}}
{{- define "gateway.deployment" -}}
{{- $root := .root -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .name }}
  labels:
    {{- .labels | nindent 4 }}
spec:
  {{- if not .autoscaled }}
  replicas: {{ .replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxUnavailable: 0, maxSurge: 1}
  selector:
    matchLabels:
      {{- .selector | nindent 6 }}
  template:
    metadata:
      labels:
        {{- .selector | nindent 8 }}
      annotations:
        # A changed policy or setting rolls the pods (the process also reloads edited policies on its own).
        checksum/policies: {{ include (print $root.Template.BasePath "/configmap-policies.yaml") $root | sha256sum }}
        checksum/settings: {{ include (print $root.Template.BasePath "/configmap-settings.yaml") $root | sha256sum }}
        prometheus.io/scrape: "true"
        prometheus.io/path: /metrics
        prometheus.io/port: "8000"
        {{- with $root.Values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "gateway.serviceAccountName" $root }}
      automountServiceAccountToken: {{ $root.Values.serviceAccount.automountToken }}
      securityContext:
        {{- toYaml $root.Values.podSecurityContext | nindent 8 }}
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      terminationGracePeriodSeconds: 30
      containers:
        - name: gateway
          image: {{ include "gateway.image" $root | quote }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          args: ["serve", "--config", "/etc/gateway/settings/settings.yaml", "--data-dir", "/var/lib/gateway",
                 "--host", "0.0.0.0", "--port", "8000"{{ range .extraArgs }}, {{ . | quote }}{{ end }}]
          ports:
            - {name: http, containerPort: 8000, protocol: TCP}
          env:
            {{- include "gateway.dsnEnv" $root | nindent 12 }}
            - name: POD_NAME
              valueFrom: {fieldRef: {fieldPath: metadata.name}}
            # One anchor file per pod on the shared volume; `gateway audit verify` reads the directory.
            - {name: GATEWAY_AUDIT_ANCHOR_FILE, value: /var/lib/gateway/anchors/$(POD_NAME).jsonl}
            # Every pod's witness file, read by verification (GET /v1/audit/verify and the CLI).
            - {name: GATEWAY_AUDIT_ANCHOR_DIR, value: /var/lib/gateway/anchors}
            - {name: HOME, value: /tmp}
            - {name: PGPASSFILE, value: /etc/gateway/keys/{{ $root.Values.secrets.keys.pgpass }}}
            - {name: OTEL_SERVICE_NAME, value: {{ $root.Values.telemetry.serviceName | quote }}}
            {{- if $root.Values.telemetry.otlpEndpoint }}
            - {name: OTEL_TRACES_EXPORTER, value: otlp}
            - {name: OTEL_EXPORTER_OTLP_ENDPOINT, value: {{ $root.Values.telemetry.otlpEndpoint | quote }}}
            {{- else }}
            - {name: OTEL_TRACES_EXPORTER, value: none}
            {{- end }}
          livenessProbe:
            httpGet: {path: /healthz, port: http}
            periodSeconds: 10
            timeoutSeconds: 3
            failureThreshold: 3
          readinessProbe:
            httpGet: {path: /readyz, port: http}
            periodSeconds: 5
            timeoutSeconds: 5
            failureThreshold: 2
          startupProbe:
            httpGet: {path: /healthz, port: http}
            periodSeconds: 2
            failureThreshold: 60
          resources:
            {{- toYaml .resources | nindent 12 }}
          securityContext:
            {{- toYaml $root.Values.securityContext | nindent 12 }}
          volumeMounts:
            {{- include "gateway.volumeMounts" $root | nindent 12 }}
      volumes:
        {{- include "gateway.volumes" $root | nindent 8 }}
      {{- with $root.Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $root.Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- if $root.Values.affinity }}
      affinity:
        {{- toYaml $root.Values.affinity | nindent 8 }}
      {{- else }}
      affinity:
        podAntiAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
            - weight: 100
              podAffinityTerm:
                topologyKey: kubernetes.io/hostname
                labelSelector:
                  matchLabels:
                    {{- .selector | nindent 20 }}
      {{- end }}
{{- end -}}
