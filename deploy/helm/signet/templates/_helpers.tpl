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
{{- define "signet.logDSNDir" -}}/etc/signet/log-dsn{{- end -}}
{{- define "signet.vaultTokenDir" -}}/var/run/secrets/vault{{- end -}}

{{/* signet.minReplicas is the fewest replicas that run. */}}
{{- define "signet.minReplicas" -}}
{{- if .Values.autoscaling.enabled -}}{{ .Values.autoscaling.minReplicas }}{{- else -}}{{ .Values.replicaCount }}{{- end -}}
{{- end -}}

{{/* signet.maxReplicas is the most replicas that run. */}}
{{- define "signet.maxReplicas" -}}
{{- if .Values.autoscaling.enabled -}}{{ .Values.autoscaling.maxReplicas }}{{- else -}}{{ .Values.replicaCount }}{{- end -}}
{{- end -}}

{{/* signet.gracePeriod is terminationGracePeriodSeconds: delay + timeout + 15 unless set. */}}
{{- define "signet.gracePeriod" -}}
{{- $min := add .Values.shutdown.delaySeconds .Values.shutdown.timeoutSeconds -}}
{{- if kindIs "invalid" .Values.terminationGracePeriodSeconds -}}{{ add $min 15 }}{{- else -}}{{ .Values.terminationGracePeriodSeconds }}{{- end -}}
{{- end -}}

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
{{- if eq (int .Values.ports.http) (int .Values.ports.admin) -}}
{{- fail "ports.http and ports.admin must differ: the admin port serves /readyz and /metrics apart from the APIs" -}}
{{- end -}}
{{- $budget := add .Values.shutdown.delaySeconds .Values.shutdown.timeoutSeconds 10 -}}
{{- if lt (int (include "signet.gracePeriod" .)) (int $budget) -}}
{{- fail (printf "terminationGracePeriodSeconds %s is below shutdown.delaySeconds + shutdown.timeoutSeconds + 10 (%d): the kubelet would kill signet while it drains; leave it unset for delay + timeout + 15" (include "signet.gracePeriod" .) (int $budget)) -}}
{{- end -}}
{{- include "signet.validateLog" . -}}
{{- end -}}

{{/* signet.validateLog fails on a log block that cannot work in a pod. */}}
{{- define "signet.validateLog" -}}
{{- $log := .Values.log -}}
{{- $type := toString (default "" $log.type) -}}
{{- $several := gt (int (include "signet.maxReplicas" .)) 1 -}}
{{- if eq $type "" -}}
{{- fail "log.type is required: posix (a directory on logVolume), mysql (a database, its DSN in logDSNSecret; for several replicas) or off (no record of what signet issues; not for production)" -}}
{{- else if eq $type "posix" -}}
{{- if or (not $log.dir) (not $log.key) -}}
{{- fail "a posix log needs log.dir (on logVolume) and log.key (transit:NAME with Vault keys, or a key file)" -}}
{{- end -}}
{{- if or (eq (toString $log.dir) "/tmp") (hasPrefix "/tmp/" (toString $log.dir)) -}}
{{- fail "log.dir is under /tmp, an emptyDir: each pod would keep its own log and lose it on restart; put it on logVolume" -}}
{{- end -}}
{{- $mounted := .Values.logVolume.existingClaim -}}
{{- range .Values.extraVolumeMounts -}}
{{- if or (eq (toString .mountPath) (toString $log.dir)) (hasPrefix (printf "%s/" (trimSuffix "/" (toString .mountPath))) (toString $log.dir)) -}}
{{- $mounted = true -}}
{{- end -}}
{{- end -}}
{{- if not $mounted -}}
{{- fail "a posix log needs a volume at log.dir: set logVolume.existingClaim (or mount one there with extraVolumes and extraVolumeMounts); the root filesystem is read-only" -}}
{{- end -}}
{{- if and $several (not .Values.logVolume.readWriteMany) -}}
{{- fail "several replicas append to one posix log only on a ReadWriteMany volume every pod mounts: set logVolume.readWriteMany: true once the claim is one (and see the README on Tessera's lock caveat), or use log.type mysql" -}}
{{- end -}}
{{- else if eq $type "mysql" -}}
{{- if $log.dsn -}}
{{- fail "log.dsn would put the database password in a ConfigMap: put the DSN in a Secret and name it in logDSNSecret" -}}
{{- end -}}
{{- if and (not .Values.logDSNSecret.name) (not (index $log "dsn-file")) -}}
{{- fail "a mysql log needs logDSNSecret.name: the Secret holding its DSN" -}}
{{- end -}}
{{- if not $log.key -}}
{{- fail "a mysql log needs log.key (transit:NAME with Vault keys, or a key file)" -}}
{{- end -}}
{{- else if ne $type "off" -}}
{{- fail (printf "log.type %q is not posix, mysql or off" $type) -}}
{{- end -}}
{{- end -}}

{{/* signet.config is signet.yaml. */}}
{{- define "signet.config" -}}
{{- $c := dict "listen" (printf "0.0.0.0:%v" .Values.ports.http) "admin-listen" (printf "0.0.0.0:%v" .Values.ports.admin) -}}
{{- $_ := set $c "public-url" .Values.publicURL -}}
{{- $_ := set $c "identity-config" (printf "%s/identity.yaml" (include "signet.configDir" .)) -}}
{{- $_ := set $c "shutdown-delay" (printf "%ds" (int .Values.shutdown.delaySeconds)) -}}
{{- $_ := set $c "shutdown-timeout" (printf "%ds" (int .Values.shutdown.timeoutSeconds)) -}}
{{- $log := deepCopy .Values.log -}}
{{- if and (eq (toString $log.type) "mysql") .Values.logDSNSecret.name -}}
{{- $_ := set $log "dsn-file" (printf "%s/%s" (include "signet.logDSNDir" .) .Values.logDSNSecret.key) -}}
{{- end -}}
{{- $_ := set $c "log" $log -}}
{{- if eq .Values.keys.backend "vault" -}}
{{- $v := .Values.keys.vault -}}
{{- $auth := dict "method" "kubernetes" "role" $v.role "mount" $v.authMount -}}
{{- if $v.tokenAudience -}}
{{- $_ := set $auth "service-account-token-file" (printf "%s/token" (include "signet.vaultTokenDir" .)) -}}
{{- end -}}
{{- $vault := dict "address" $v.address "transit-mount" $v.transitMount "kv-mount" $v.kvMount "auth" $auth -}}
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
