{{/* Names and labels. */}}
{{- define "signet.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "signet.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "signet.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "signet.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "signet.selectorLabels" -}}
app.kubernetes.io/name: {{ include "signet.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "signet.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "signet.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "signet.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "signet.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Where the pod mounts what signet reads. */}}
{{- define "signet.configDir" -}}/etc/signet/config{{- end -}}
{{- define "signet.keysDir" -}}/etc/signet/keys{{- end -}}
{{- define "signet.vaultCADir" -}}/etc/signet/vault-ca{{- end -}}

{{/*
signet.validate fails the render, naming the value, on a combination that
cannot work.
*/}}
{{- define "signet.validate" -}}
{{- if not .Values.publicURL -}}
{{- fail "publicURL is required: the URL clients reach signet at, which goes into the trusted root and signing config every replica serves" -}}
{{- end -}}
{{- $issuers := 0 -}}
{{- with .Values.identityConfig -}}
{{- $issuers = add (len (default (dict) (index . "oidc-issuers"))) (len (default (dict) (index . "meta-issuers"))) -}}
{{- end -}}
{{- if eq (int $issuers) 0 -}}
{{- fail "identityConfig has no issuer: set identityConfig.oidc-issuers (or meta-issuers) to the OIDC issuers whose tokens signet trusts" -}}
{{- end -}}
{{- if eq .Values.keys.backend "vault" -}}
{{- if not .Values.keys.vault.address -}}
{{- fail "keys.vault.address is required with keys.backend vault" -}}
{{- end -}}
{{- if not .Values.keys.vault.role -}}
{{- fail "keys.vault.role is required with keys.backend vault: the Vault Kubernetes auth role bound to this chart's ServiceAccount" -}}
{{- end -}}
{{- else if eq .Values.keys.backend "file" -}}
{{- if not .Values.keys.file.secretName -}}
{{- fail "keys.file.secretName is required with keys.backend file: the Secret holding the CA and TSA keys and chains" -}}
{{- end -}}
{{- if or (gt (int .Values.replicaCount) 1) .Values.autoscaling.enabled -}}
{{- fail "keys.backend file serves one replica (replicaCount 1, autoscaling off): use keys.backend vault for several replicas" -}}
{{- end -}}
{{- else -}}
{{- fail (printf "keys.backend %q is not vault or file" .Values.keys.backend) -}}
{{- end -}}
{{- end -}}

{{/* signet.config is signet.yaml. */}}
{{- define "signet.config" -}}
{{- $c := dict "listen" (printf "0.0.0.0:%v" .Values.ports.http) "admin-listen" (printf "0.0.0.0:%v" .Values.ports.admin) -}}
{{- $_ := set $c "public-url" .Values.publicURL -}}
{{- $_ := set $c "identity-config" (printf "%s/identity.yaml" (include "signet.configDir" .)) -}}
{{- $_ := set $c "shutdown-delay" .Values.shutdown.delay -}}
{{- $_ := set $c "shutdown-timeout" .Values.shutdown.timeout -}}
{{- $_ := set $c "log" (deepCopy .Values.log) -}}
{{- if eq .Values.keys.backend "vault" -}}
{{- $v := .Values.keys.vault -}}
{{- $vault := dict "address" $v.address "transit-mount" $v.transitMount "kv-mount" $v.kvMount "auth" (dict "method" "kubernetes" "role" $v.role "mount" $v.authMount) -}}
{{- if $v.caCertSecret -}}
{{- $_ := set $vault "ca-cert" (printf "%s/ca.crt" (include "signet.vaultCADir" .)) -}}
{{- end -}}
{{- $_ := set $c "vault" $vault -}}
{{- $_ := set $c "ca" (dict "type" "vault" "key" $v.caKey "chain-path" $v.caChainPath) -}}
{{- $_ := set $c "tsa" (dict "type" "vault" "key" $v.tsaKey "chain-path" $v.tsaChainPath) -}}
{{- else -}}
{{- $f := .Values.keys.file -}}
{{- $dir := include "signet.keysDir" . -}}
{{- $_ := set $c "ca" (dict "type" "file" "key-file" (printf "%s/%s" $dir $f.caKey) "chain-file" (printf "%s/%s" $dir $f.caChain)) -}}
{{- $_ := set $c "tsa" (dict "type" "file" "key-file" (printf "%s/%s" $dir $f.tsaKey) "chain-file" (printf "%s/%s" $dir $f.tsaChain)) -}}
{{- end -}}
{{- $c = mergeOverwrite $c (deepCopy .Values.extraConfig) -}}
{{- toYaml $c -}}
{{- end -}}
