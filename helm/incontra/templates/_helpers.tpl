{{/* Chart name, truncated to the 63 characters a label value allows. */}}
{{- define "incontra.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of the release's objects. A StatefulSet's pods add "-<ordinal>" and its controller a revision hash
label ("<name>-<10 characters>"), so it is kept to 52 characters.
*/}}
{{- define "incontra.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "incontra.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "incontra.selectorLabels" -}}
app.kubernetes.io/name: {{ include "incontra.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "incontra.labels" -}}
helm.sh/chart: {{ include "incontra.chart" . }}
{{ include "incontra.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: incontra
{{- end }}

{{- define "incontra.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "incontra.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "incontra.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Paths inside the container. */}}
{{- define "incontra.authDir" -}}/etc/incontra/auth{{- end }}
{{- define "incontra.tlsDir" -}}/etc/incontra/tls{{- end }}
{{- define "incontra.clientCADir" -}}/etc/incontra/tls-client-ca{{- end }}
{{- define "incontra.kafkaConfigDir" -}}/etc/incontra/kafka{{- end }}
{{- define "incontra.kafkaCADir" -}}/etc/incontra/kafka-ca{{- end }}
{{- define "incontra.scoringDir" -}}/etc/incontra/scoring{{- end }}

{{/* The file name the JWKS is mounted under, next to auth.toml (which names it relative to itself). */}}
{{- define "incontra.jwksFile" -}}jwks.json{{- end }}

{{/*
Checks of combinations the schema cannot express, with a message naming the value to change.
*/}}
{{- define "incontra.validate" -}}
{{- if and (not .Values.kafka.enabled) (gt (int .Values.replicaCount) 1) }}
{{- fail "replicaCount > 1 needs kafka.enabled: without Kafka each node holds only the events sent to its own Ingest, so replicas behind one Service would answer from different data" }}
{{- end }}
{{- if and .Values.kafka.enabled (not .Values.kafka.bootstrap) }}
{{- fail "kafka.enabled needs kafka.bootstrap (the brokers' bootstrap.servers)" }}
{{- end }}
{{- if and .Values.tls.enabled (not .Values.tls.secretName) }}
{{- fail "tls.enabled needs tls.secretName (a kubernetes.io/tls Secret with tls.crt and tls.key)" }}
{{- end }}
{{- if and .Values.tls.clientCA.enabled (not .Values.tls.enabled) }}
{{- fail "tls.clientCA.enabled (mutual TLS) needs tls.enabled" }}
{{- end }}
{{- if and .Values.tls.enabled (not .Values.probes.tlsCommand) }}
{{- fail "tls.enabled needs probes.tlsCommand: Kubernetes' native gRPC probe speaks plaintext only, so startup and readiness must run a gRPC health client that speaks TLS inside the container" }}
{{- end }}
{{- $jwksSources := 0 }}
{{- range (list .Values.auth.jwks.inline .Values.auth.jwks.existingConfigMap .Values.auth.jwks.existingSecret) }}
{{- if . }}{{ $jwksSources = add1 $jwksSources }}{{ end }}
{{- end }}
{{- if gt $jwksSources 1 }}
{{- fail "set at most one of auth.jwks.inline, auth.jwks.existingConfigMap and auth.jwks.existingSecret" }}
{{- end }}
{{- end }}

{{/*
The `incontra serve` command line, as a JSON list (one argument per item, nothing for a shell to split).
*/}}
{{- define "incontra.args" -}}
{{- $v := .Values }}
{{- $args := list "serve"
      (printf "--data-dir=%s" $v.persistence.mountPath)
      (printf "--listen=0.0.0.0:%d" (int $v.grpc.port))
      (printf "--auth-config=%s/auth.toml" (include "incontra.authDir" .)) }}
{{- if $v.metrics.enabled }}
{{- $args = append $args (printf "--metrics-listen=0.0.0.0:%d" (int $v.metrics.port)) }}
{{- end }}
{{- if $v.tls.enabled }}
{{- $args = append $args (printf "--tls-cert=%s/tls.crt" (include "incontra.tlsDir" .)) }}
{{- $args = append $args (printf "--tls-key=%s/tls.key" (include "incontra.tlsDir" .)) }}
{{- if $v.tls.clientCA.enabled }}
{{- $args = append $args (printf "--tls-client-ca=%s/%s" (include "incontra.clientCADir" .) $v.tls.clientCA.key) }}
{{- end }}
{{- end }}
{{- if $v.scoring.config }}
{{- $args = append $args (printf "--scoring-config=%s/scoring.toml" (include "incontra.scoringDir" .)) }}
{{- end }}
{{- if $v.scoring.weights }}
{{- $args = append $args (printf "--weights=%s/weights.toml" (include "incontra.scoringDir" .)) }}
{{- end }}
{{- if $v.asOf }}
{{- $args = append $args (printf "--as-of=%s" $v.asOf) }}
{{- end }}
{{- if $v.maxRunningLists }}
{{- $args = append $args (printf "--max-running-lists=%d" (int64 $v.maxRunningLists)) }}
{{- end }}
{{- if $v.maxQueuedLists }}
{{- $args = append $args (printf "--max-queued-lists=%d" (int64 $v.maxQueuedLists)) }}
{{- end }}
{{- if $v.snapshotEvery }}
{{- $args = append $args (printf "--snapshot-every=%d" (int64 $v.snapshotEvery)) }}
{{- end }}
{{- with $v.kafka }}
{{- if .enabled }}
{{- $args = append $args (printf "--kafka=%s" .bootstrap) }}
{{- $args = append $args (printf "--kafka-topic-vacancies=%s" .topics.vacancies) }}
{{- $args = append $args (printf "--kafka-topic-candidacies=%s" .topics.candidacies) }}
{{- $args = append $args (printf "--kafka-topic-co=%s" .topics.co) }}
{{- $args = append $args (printf "--kafka-topic-lists=%s" .topics.lists) }}
{{- $args = append $args (printf "--kafka-ready-max-lag=%d" (int64 .readyMaxLag)) }}
{{- $args = append $args (printf "--kafka-batch-max-messages=%d" (int64 .batchMaxMessages)) }}
{{- range $key, $value := .options }}
{{- /* Numbers arrive as float64 from YAML: print integers whole, never as 5.24288e+07. */}}
{{- $text := toString $value }}
{{- if kindIs "float64" $value }}
{{- $text = printf "%d" (int64 $value) }}
{{- end }}
{{- $args = append $args (printf "--kafka-option=%s=%s" $key $text) }}
{{- end }}
{{- if and .caSecret.name (not (hasKey .options "ssl.ca.location")) }}
{{- $args = append $args (printf "--kafka-option=ssl.ca.location=%s/%s" (include "incontra.kafkaCADir" $) .caSecret.key) }}
{{- end }}
{{- if .configSecret.name }}
{{- $args = append $args (printf "--kafka-config-file=%s/%s" (include "incontra.kafkaConfigDir" $) .configSecret.key) }}
{{- end }}
{{- end }}
{{- end }}
{{- range $v.extraArgs }}
{{- $args = append $args . }}
{{- end }}
{{- toJson $args }}
{{- end }}

{{/*
One NetworkPolicy peer, as a one-item list, from {namespaceSelector, podSelector}: pods matching podSelector (all
of them when empty) in the namespaces matching namespaceSelector (the release's own namespace when absent).
*/}}
{{- define "incontra.peer" -}}
{{- $peer := dict "podSelector" (.podSelector | default dict) }}
{{- with .namespaceSelector }}
{{- $_ := set $peer "namespaceSelector" . }}
{{- end }}
{{- toYaml (list $peer) }}
{{- end }}

{{/* topologySpreadConstraints, each with this release's pods as labelSelector unless it names one. */}}
{{- define "incontra.topologySpreadConstraints" -}}
{{- $out := list }}
{{- range .Values.topologySpreadConstraints }}
{{- $constraint := deepCopy . }}
{{- if not (hasKey $constraint "labelSelector") }}
{{- $_ := set $constraint "labelSelector" (dict "matchLabels" (include "incontra.selectorLabels" $ | fromYaml)) }}
{{- end }}
{{- $out = append $out $constraint }}
{{- end }}
{{- toYaml $out }}
{{- end }}
