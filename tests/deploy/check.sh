#!/usr/bin/env bash
# tests/deploy/check.sh — checks the deployment files under deploy/ as far as this machine allows: no container
# engine and no Kubernetes cluster run here, so nothing is built into an image or applied to a cluster.
#
#   compose     docker-compose 1.29 `config` renders deploy/docker-compose.yml with deploy/.env.example; the
#               services, roles and healthchecks are there; without the env file Compose refuses (no default
#               password)
#   k8s         `kubectl kustomize deploy/k8s` renders offline; every manifest is parsed and checked: probes
#               (/healthz, /readyz), requests/limits, runAsNonRoot, readOnlyRootFilesystem, no privilege
#               escalation, secrets only by secretKeyRef to mien-secrets, ConfigMap and Service wiring, 2 workers
#               (`kubectl apply --dry-run=client` is NOT run: it needs an API server even for a client dry run)
#   config      the values in the ConfigMap, deploy/systemd/mien.env.example and the Dockerfile's ENV are loaded
#               by mien's own configuration code (`mien migrate --status` against a throw-away SQLite)
#   systemd     `systemd-analyze verify` and `systemd-analyze security --offline` (exposure threshold) on the unit
#   monitoring  prometheus.yml parses with unique jobs; the Grafana JSON parses, and every metric it queries is
#               one src/http/metrics.c exports
#   secrets     no file under deploy/ (git-tracked or not ignored) holds a literal password, token or key
#   dockerfile  static (hadolint-style) rules; build packages are ones scripts/deps.sh installs; every build and
#               runtime package exists in this Debian's apt lists; every shared library build/mien links
#               (readelf NEEDED) belongs to a runtime-stage package
#   image       without an engine: the runtime stage's layout (binary, models, web, read-only files, state
#               directory as cwd, non-root user, the image's ENV) is staged in a temporary root and `mien serve`
#               is started from it as role all and worker; deploy/healthcheck.sh must pass /healthz and /readyz,
#               the dashboard and /metrics must answer
#   build       only with DEPLOY_CHECK_BUILD=1 (minutes, fetches npm packages): the Dockerfile's build-stage
#               `make` run in a copy of the build context filtered by deploy/Dockerfile.dockerignore
#
# Exit status: non-zero if any check failed. A part whose tool or input is missing is reported SKIP (with
# DEPLOY_CHECK_STRICT=1 a skip fails too).
set -uo pipefail

cd "$(dirname "$0")/../.." || exit 2
ROOT=$PWD
TMP=$(mktemp -d)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT

fails=0
skips=0
pass() { printf '  ok    %s\n' "$*"; }
fail() {
	printf '  FAIL  %s\n' "$*"
	fails=$((fails + 1))
}
skip() {
	printf '  SKIP  %s\n' "$*"
	skips=$((skips + 1))
}
section() { printf '\n== %s\n' "$*"; }

# A Python 3 that has PyYAML (Debian's python3-yaml; the first python3 on PATH may be a separate build without it).
PY=
for p in $(type -ap python3) /usr/bin/python3; do
	if "$p" -c 'import yaml' 2>/dev/null; then
		PY=$p
		break
	fi
done

MIEN=build/mien

# --- compose --------------------------------------------------------------------------------------------------
section "compose: deploy/docker-compose.yml"
COMPOSE=()
if command -v docker-compose >/dev/null 2>&1; then
	COMPOSE=(docker-compose)
elif docker compose version >/dev/null 2>&1; then
	COMPOSE=(docker compose)
fi
if [[ ${#COMPOSE[@]} -eq 0 ]]; then
	skip "neither docker-compose nor the docker compose plugin is installed (Debian: docker-compose)"
else
	# --env-file names the example explicitly, so a real deploy/.env beside the file is never read here.
	if env -u POSTGRES_PASSWORD -u REDIS_PASSWORD "${COMPOSE[@]}" -f deploy/docker-compose.yml \
		--env-file deploy/.env.example config >"$TMP/compose.yml" 2>"$TMP/compose.err"; then
		pass "${COMPOSE[*]} config renders it with deploy/.env.example"
		if [[ -n $PY ]]; then
			if "$PY" - "$TMP/compose.yml" <<'EOF'; then
import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
s = c["services"]
errors = []
want = {"postgres", "redis", "api", "worker-1", "worker-2"}
if set(s) != want:
    errors.append(f"services {sorted(s)} != {sorted(want)}")
roles = {n: (s[n].get("environment") or {}).get("MIEN_ROLE") for n in s if n.startswith(("api", "worker"))}
if roles != {"api": "api", "worker-1": "worker", "worker-2": "worker"}:
    errors.append(f"MIEN_ROLE per service: {roles}")
for n in ("api", "worker-1", "worker-2"):
    env = s[n].get("environment") or {}
    if not env.get("MIEN_DB", "").startswith("postgresql://"): errors.append(f"{n}: MIEN_DB is not PostgreSQL")
    if not env.get("MIEN_REDIS", "").startswith("redis://"): errors.append(f"{n}: MIEN_REDIS missing")
    if env.get("MIEN_LISTEN") != "0.0.0.0:8080": errors.append(f"{n}: MIEN_LISTEN")
    dep = s[n].get("depends_on") or {}
    for d in ("postgres", "redis"):
        if not isinstance(dep, dict) or (dep.get(d) or {}).get("condition") != "service_healthy":
            errors.append(f"{n}: depends_on {d} without condition service_healthy")
    if not s[n].get("read_only"): errors.append(f"{n}: not read_only")
for n in want:
    if "healthcheck" not in s[n]: errors.append(f"{n}: no healthcheck")
if not s["api"].get("ports"): errors.append("api: no published port")
for n in ("worker-1", "worker-2", "postgres", "redis"):
    if s[n].get("ports"): errors.append(f"{n}: publishes a port")
if "pgdata" not in (c.get("volumes") or {}): errors.append("no pgdata volume")
for e in errors: print("    " + e)
sys.exit(1 if errors else 0)
EOF
				pass "services postgres, redis, api (published), worker-1/2 (MIEN_ROLE), healthchecks, depends_on healthy, volume"
			else
				fail "the rendered compose file misses something (above)"
			fi
		else
			skip "no Python with PyYAML (Debian: python3-yaml) to inspect the rendered compose file"
		fi
	else
		fail "${COMPOSE[*]} config: $(tail -3 "$TMP/compose.err")"
	fi
	: >"$TMP/empty.env"
	if env -u POSTGRES_PASSWORD -u REDIS_PASSWORD "${COMPOSE[@]}" -f deploy/docker-compose.yml \
		--env-file "$TMP/empty.env" config -q >/dev/null 2>&1; then
		fail "compose renders without POSTGRES_PASSWORD/REDIS_PASSWORD (a default password slipped in)"
	else
		pass "without the env file Compose refuses to render (passwords are mandatory)"
	fi
fi

# --- kubernetes -----------------------------------------------------------------------------------------------
section "k8s: deploy/k8s"
if command -v kubectl >/dev/null 2>&1; then
	if kubectl kustomize deploy/k8s >"$TMP/k8s.yml" 2>"$TMP/k8s.err"; then
		pass "kubectl kustomize deploy/k8s renders ($(grep -c '^kind:' "$TMP/k8s.yml") objects)"
	else
		fail "kubectl kustomize deploy/k8s: $(tail -3 "$TMP/k8s.err")"
	fi
	echo "  note  kubectl apply --dry-run=client not run: it needs a reachable API server; no schema validation"
else
	skip "kubectl not installed: kustomization not rendered (the manifests are still checked below)"
fi
if [[ -n $PY ]]; then
	if "$PY" - "$TMP/configmap.env" deploy/k8s/*.yaml deploy/k8s/upgrade/*.yaml <<'EOF'; then
import sys, yaml, re
out_env, files = sys.argv[1], sys.argv[2:]
errors, objs = [], []
for f in files:
    text = open(f).read()
    docs = [d for d in yaml.safe_load_all(text) if d is not None]
    if f.endswith("kustomization.yaml"):
        for d in docs:
            for r in d.get("resources", []):
                if not __import__("os").path.exists(__import__("os").path.join(__import__("os").path.dirname(f), r)):
                    errors.append(f"{f}: resource {r} missing")
        continue
    if f.endswith("secret.example.yaml"):
        if docs: errors.append(f"{f}: must hold only comments (an example), found {len(docs)} object(s)")
        continue
    for d in docs:
        for k in ("apiVersion", "kind", "metadata"):
            if k not in d: errors.append(f"{f}: object without {k}")
        objs.append((f, d))
kinds = {}
for f, d in objs: kinds.setdefault(d["kind"], []).append((f, d))
if any(d["kind"] == "Secret" for _, d in objs): errors.append("a Secret object is in the manifests")
cms = {d["metadata"]["name"]: d for _, d in kinds.get("ConfigMap", [])}
deps = {d["metadata"]["name"]: d for _, d in kinds.get("Deployment", [])}
if set(deps) != {"mien-api", "mien-worker"}: errors.append(f"Deployments {sorted(deps)}")
def pod_checks(name, pod, want_probes):
    sc = pod.get("securityContext") or {}
    if sc.get("runAsNonRoot") is not True: errors.append(f"{name}: pod securityContext.runAsNonRoot is not true")
    if pod.get("automountServiceAccountToken") is not False: errors.append(f"{name}: service account token mounted")
    for c in pod["containers"]:
        cn = f"{name}/{c['name']}"
        csc = c.get("securityContext") or {}
        if csc.get("readOnlyRootFilesystem") is not True: errors.append(f"{cn}: readOnlyRootFilesystem")
        if csc.get("allowPrivilegeEscalation") is not False: errors.append(f"{cn}: allowPrivilegeEscalation")
        if "ALL" not in ((csc.get("capabilities") or {}).get("drop") or []): errors.append(f"{cn}: capabilities not dropped")
        r = c.get("resources") or {}
        for k in ("requests", "limits"):
            for res in ("cpu", "memory"):
                if res not in (r.get(k) or {}): errors.append(f"{cn}: resources.{k}.{res} missing")
        for e in c.get("env", []):
            if "value" in e and re.search(r"pass|secret|token|key", e["name"], re.I):
                errors.append(f"{cn}: {e['name']} given as a literal value")
            ref = (e.get("valueFrom") or {}).get("secretKeyRef")
            if ref and ref.get("name") != "mien-secrets": errors.append(f"{cn}: secretKeyRef to {ref.get('name')}")
        names = {e["name"] for e in c.get("env", [])}
        for must in ("MIEN_DB",):
            ref = next((e for e in c.get("env", []) if e["name"] == must), None)
            if not ref or "secretKeyRef" not in (ref.get("valueFrom") or {}): errors.append(f"{cn}: {must} not from the Secret")
        for ef in c.get("envFrom", []):
            cm = (ef.get("configMapRef") or {}).get("name")
            if cm and cm not in cms: errors.append(f"{cn}: ConfigMap {cm} not defined")
        if want_probes:
            ports = {p.get("name") for p in c.get("ports", [])}
            for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz"), ("startupProbe", "/healthz")):
                g = (c.get(probe) or {}).get("httpGet") or {}
                if g.get("path") != path: errors.append(f"{cn}: {probe} is not GET {path}")
                if g.get("port") not in ports: errors.append(f"{cn}: {probe} port {g.get('port')} not a container port")
            if "MIEN_ROLE" not in names: errors.append(f"{cn}: MIEN_ROLE not set")
for name, d in deps.items():
    spec = d["spec"]; tpl = spec["template"]
    sel = spec["selector"]["matchLabels"]
    if any(tpl["metadata"]["labels"].get(k) != v for k, v in sel.items()): errors.append(f"{name}: selector does not match the pod labels")
    pod_checks(name, tpl["spec"], True)
    role = next((e.get("value") for e in tpl["spec"]["containers"][0].get("env", []) if e["name"] == "MIEN_ROLE"), None)
    want_role = "api" if name == "mien-api" else "worker"
    if role != want_role: errors.append(f"{name}: MIEN_ROLE={role}")
if "mien-worker" in deps:
    w = deps["mien-worker"]
    if w["spec"].get("replicas") != 2: errors.append("mien-worker: replicas != 2")
    wr = w["spec"]["template"]["spec"]["containers"][0]["resources"]
    ar = deps.get("mien-api", w)["spec"]["template"]["spec"]["containers"][0]["resources"]
    def cpu(v): v = str(v); return float(v[:-1]) / 1000 if v.endswith("m") else float(v)
    if cpu(wr["requests"]["cpu"]) <= cpu(ar["requests"]["cpu"]): errors.append("workers do not request more CPU than the api")
svcs = kinds.get("Service", [])
if len(svcs) != 1: errors.append(f"{len(svcs)} Services (want one, for the api)")
for _, s in svcs:
    api = deps.get("mien-api")
    if api and any(api["spec"]["template"]["metadata"]["labels"].get(k) != v for k, v in s["spec"]["selector"].items()):
        errors.append("Service selector does not pick the api pods")
    if api:
        ports = {p.get("name") for p in api["spec"]["template"]["spec"]["containers"][0]["ports"]}
        for p in s["spec"]["ports"]:
            if p.get("targetPort") not in ports: errors.append(f"Service targetPort {p.get('targetPort')} unknown")
for f, j in kinds.get("Job", []):
    pod_checks(j["metadata"]["name"], j["spec"]["template"]["spec"], False)
    if j["spec"]["template"]["spec"]["containers"][0].get("args") != ["migrate"]: errors.append("migrate Job does not run `mien migrate`")
with open(out_env, "w") as o:
    for cm in cms.values():
        for k, v in (cm.get("data") or {}).items(): o.write(f"{k}={v}\n")
for e in errors: print("    " + e)
print(f"    {len(objs)} objects in {len(files)} files")
sys.exit(1 if errors else 0)
EOF
		pass "manifests: probes, resources, non-root, read-only root, secretKeyRef mien-secrets, ConfigMap/Service wiring, 2 workers"
	else
		fail "manifests (above)"
	fi
else
	skip "no Python with PyYAML (Debian: python3-yaml): manifests not inspected"
fi

# --- configuration values through mien's own loader ----------------------------------------------------------
section "config: values mien must accept"
# Loads KEY=VALUE lines (comments and blanks skipped) into a clean environment and runs `mien migrate --status`
# on a throw-away database: mien_config_load rejects a bad role, level, thread count or listen address.
config_accepts() {
	local what=$1 file=$2
	local -a vars=()
	while IFS= read -r line; do
		[[ $line =~ ^[[:space:]]*(#|$) ]] && continue
		vars+=("$line")
	done <"$file"
	if env -i PATH="$PATH" "${vars[@]}" MIEN_DB="sqlite:$TMP/config.db" "$MIEN" migrate --status >"$TMP/config.out" 2>&1; then
		pass "$what: ${#vars[@]} settings accepted by mien"
	else
		fail "$what: $(tail -2 "$TMP/config.out")"
	fi
}
if [[ -x $MIEN ]]; then
	config_accepts "deploy/systemd/mien.env.example" deploy/systemd/mien.env.example
	[[ -s $TMP/configmap.env ]] && config_accepts "k8s ConfigMap mien-config" "$TMP/configmap.env"
	sed -n '/^FROM .* AS runtime/,$p' deploy/Dockerfile | sed -n '/^ENV MIEN_/,/^[^[:space:]]/p' |
		grep -o 'MIEN_[A-Z_]*=[^ \\]*' >"$TMP/dockerfile.env"
	config_accepts "Dockerfile runtime ENV" "$TMP/dockerfile.env"
else
	skip "build/mien not built (make build/mien): configuration values not loaded"
fi

# --- systemd --------------------------------------------------------------------------------------------------
section "systemd: deploy/systemd/mien.service"
if command -v systemd-analyze >/dev/null 2>&1; then
	# verify wants ExecStart's program to exist; point it at build/mien (or /bin/true) in a copy of the unit.
	exe=$ROOT/$MIEN
	[[ -x $exe ]] || exe=/bin/true
	mkdir -p "$TMP/unit"
	sed "s#^ExecStart=/usr/local/bin/mien#ExecStart=$exe#" deploy/systemd/mien.service >"$TMP/unit/mien.service"
	if systemd-analyze verify "$TMP/unit/mien.service" >"$TMP/sd.out" 2>&1 && ! grep -q . "$TMP/sd.out"; then
		pass "systemd-analyze verify: no warnings"
	else
		fail "systemd-analyze verify: $(head -5 "$TMP/sd.out")"
	fi
	if systemd-analyze security --offline=true --threshold=25 "$TMP/unit/mien.service" >"$TMP/sec.out" 2>&1; then
		pass "systemd-analyze security: $(grep -o 'exposure level.*' "$TMP/sec.out")"
	else
		fail "systemd-analyze security over 2.5 (threshold 25 in tenths): $(grep -o 'exposure level.*' "$TMP/sec.out")"
	fi
	for k in DynamicUser=yes StateDirectory=mien EnvironmentFile=/etc/mien/mien.env ProtectSystem=strict \
		NoNewPrivileges=yes Restart=on-failure; do
		grep -qx "$k" deploy/systemd/mien.service || fail "mien.service lacks $k"
	done
	pass "unit sets DynamicUser, StateDirectory=mien, EnvironmentFile, ProtectSystem=strict, NoNewPrivileges, Restart"
else
	skip "systemd-analyze not installed (Debian: systemd)"
fi

# --- monitoring -----------------------------------------------------------------------------------------------
section "monitoring: deploy/prometheus.yml, deploy/grafana/mien-dashboard.json"
if [[ -n $PY ]]; then
	if "$PY" -c '
import sys, yaml
c = yaml.safe_load(open("deploy/prometheus.yml"))
jobs = [j["job_name"] for j in c["scrape_configs"]]
assert len(jobs) == len(set(jobs)), "duplicate job names"
for j in c["scrape_configs"]:
    assert j.get("metrics_path", "/metrics") == "/metrics", j["job_name"]
    assert j.get("static_configs") or j.get("kubernetes_sd_configs"), j["job_name"]
print("    jobs:", ", ".join(jobs))
'; then pass "prometheus.yml parses; unique jobs scraping /metrics"; else fail "prometheus.yml"; fi
else
	skip "no Python with PyYAML: prometheus.yml not parsed"
fi
if command -v promtool >/dev/null 2>&1; then
	promtool check config deploy/prometheus.yml >/dev/null 2>&1 && pass "promtool check config" || fail "promtool check config"
else
	echo "  note  promtool not installed (Debian: prometheus): prometheus.yml checked as YAML only"
fi
if node -e '
const fs = require("fs");
const d = JSON.parse(fs.readFileSync("deploy/grafana/mien-dashboard.json", "utf8"));
const src = fs.readFileSync("src/http/metrics.c", "utf8");
const errors = [];
const ids = new Set();
let exprs = 0;
const used = new Set();
for (const p of d.panels) {
  if (ids.has(p.id)) errors.push("duplicate panel id " + p.id);
  ids.add(p.id);
  for (const t of p.targets || []) {
    exprs++;
    for (const m of t.expr.match(/\bmien_[a-z_]+/g) || []) used.add(m);
  }
}
for (const m of used) {
  const base = m.replace(/_(bucket|sum|count)$/, "");
  if (!src.includes(base)) errors.push(m + " is not exported by src/http/metrics.c");
}
for (const want of ["mien_http_requests_total", "mien_http_request_duration_seconds_bucket", "mien_analyze_duration_seconds_bucket", "mien_stream_clients", "mien_bus_ready"])
  if (!used.has(want)) errors.push("no panel uses " + want);
if (!d.uid || !d.title) errors.push("uid/title missing");
for (const e of errors) console.log("    " + e);
console.log("    " + d.panels.length + " panels, " + exprs + " queries over " + [...used].sort().join(", "));
process.exit(errors.length ? 1 : 0);
'; then
	pass "Grafana dashboard: valid JSON; every metric it queries is exported by src/http/metrics.c"
else
	fail "Grafana dashboard"
fi

# --- secrets --------------------------------------------------------------------------------------------------
section "secrets: no literal secret under deploy/"
# Files git would take (tracked, or untracked and not ignored): a local deploy/.env with real values is ignored.
mapfile -t deploy_files < <(git ls-files -co --exclude-standard -- deploy | sort -u)
placeholder='(change-me|CHANGE-ME|<[^>]*>|\$\{[A-Z_]+[^}]*\}|\$\$?[A-Z_]+|PASSWORD|\*+|true|false|"?"?)'
hits=0
for f in "${deploy_files[@]}"; do
	[[ -f $f ]] || continue
	# key: value or KEY=value for password/secret/token/key-like names, whose value is not a placeholder.
	while IFS= read -r hit; do
		echo "    $f: $hit"
		hits=$((hits + 1))
	done < <(grep -niE '(pass(word)?|passwd|secret|token|api[_-]?key|private[_-]?key)[A-Za-z_]*["'"'"']?[[:space:]]*[:=][[:space:]]*' "$f" |
		grep -viE "(pass(word)?|passwd|secret|token|api[_-]?key|private[_-]?key)[A-Za-z_]*[\"']?[[:space:]]*[:=][[:space:]]*${placeholder}[[:space:]]*(#.*)?$" |
		grep -vE '^[0-9]+:[[:space:]]*#' |
		grep -viE 'secretKeyRef|name: mien-secrets|key: (db|redis)-url|requirepass|REDISCLI_AUTH|\$\{?[A-Z_]*PASSWORD' || true)
	# URLs with an inline password that is not a placeholder.
	while IFS= read -r hit; do
		echo "    $f: $hit"
		hits=$((hits + 1))
	done < <(grep -noE '[a-z]+://[^:/@[:space:]]*:[^@[:space:]]+@' "$f" |
		grep -vE "://[^:]*:${placeholder}@" || true)
	grep -qE -- '-----BEGIN [A-Z ]*PRIVATE KEY-----' "$f" && {
		echo "    $f: a private key"
		hits=$((hits + 1))
	}
done
if [[ $hits -eq 0 ]]; then
	pass "${#deploy_files[@]} files: passwords only as placeholders (change-me, <...>, \${VAR}) or secret references"
else
	fail "$hits literal secret(s) above"
fi

# --- Dockerfile -----------------------------------------------------------------------------------------------
section "dockerfile: deploy/Dockerfile (static; no engine to build it)"
DF=deploy/Dockerfile
# Joins continuation lines so that each instruction is one line.
sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$DF" | grep -v '^[[:space:]]*#' >"$TMP/Dockerfile.flat"
runtime_flat=$(sed -n '/^FROM .* AS runtime/,$p' "$TMP/Dockerfile.flat")
df_errors=0
df_rule() { # rule description, then a command that succeeds when the rule holds
	local what=$1
	shift
	if "$@"; then pass "$what"; else
		fail "$what"
		df_errors=$((df_errors + 1))
	fi
}
df_rule "two stages, both FROM debian:12-slim (ARG DEBIAN_IMAGE)" \
	bash -c '[[ $(grep -c "^FROM \${DEBIAN_IMAGE} AS " "$1") == 2 ]] && grep -q "^ARG DEBIAN_IMAGE=debian:12-slim$" "$1"' _ "$TMP/Dockerfile.flat"
df_rule "apt-get update and install in the same RUN, --no-install-recommends, lists removed (DL3009/DL3015)" \
	bash -c '! grep "apt-get install" "$1" | grep -qv -- "--no-install-recommends" && ! grep "apt-get install" "$1" | grep -qv "apt-get update" && ! grep "apt-get install" "$1" | grep -qv "rm -rf /var/lib/apt/lists"' _ "$TMP/Dockerfile.flat"
df_rule "no ADD, no sudo, no :latest base (DL3020, DL3004, DL3007)" \
	bash -c '! grep -qE "^ADD |sudo |^FROM [^ ]*:latest" "$1"' _ "$TMP/Dockerfile.flat"
df_rule "runtime: USER non-root (numeric), EXPOSE 8080, VOLUME /var/lib/mien, HEALTHCHECK, ENTRYPOINT mien" \
	bash -c 'grep -qE "^USER [1-9][0-9]*(:[0-9]+)?$" <<<"$1" && grep -q "^EXPOSE 8080$" <<<"$1" && grep -q "^VOLUME \[\"/var/lib/mien\"\]$" <<<"$1" && grep -q "^HEALTHCHECK .*mien-healthcheck" <<<"$1" && grep -q "^ENTRYPOINT \[\"/usr/local/bin/mien\"\]$" <<<"$1" && grep -q "^CMD \[\"serve\"\]$" <<<"$1"' _ "$runtime_flat"
df_rule "runtime ENV MIEN_LISTEN=0.0.0.0:8080, MIEN_DB in the volume" \
	bash -c 'grep -q "MIEN_LISTEN=0.0.0.0:8080" <<<"$1" && grep -q "MIEN_DB=sqlite:/var/lib/mien/" <<<"$1"' _ "$runtime_flat"
df_rule "build stage runs make models build/mien web" grep -q 'make .*models build/mien web' "$TMP/Dockerfile.flat"
df_rule "COPY sources from the context exist (deploy/healthcheck.sh executable)" test -x deploy/healthcheck.sh
if command -v shellcheck >/dev/null 2>&1; then
	df_rule "shellcheck deploy/healthcheck.sh tests/deploy/check.sh" shellcheck -S warning deploy/healthcheck.sh tests/deploy/check.sh
fi

# Packages of each stage (the words after `apt-get install ... ` up to `&&`).
stage_packages() {
	sed -n "/^FROM .* AS $1\$/,/^FROM /p" "$TMP/Dockerfile.flat" | grep -o 'apt-get install[^&]*' |
		tr -s ' \t' '\n' | grep -vE '^(apt-get|install|-y|--no-install-recommends|)$'
}
mapfile -t build_pkgs < <(stage_packages build)
mapfile -t runtime_pkgs < <(stage_packages runtime)
# scripts/deps.sh's PACKAGES list, plus what it adds conditionally (nodejs npm) and ca-certificates (which
# npm needs in a bare image and a full Debian already has).
mapfile -t deps_pkgs < <(sed -n '/^PACKAGES=(/,/^)/p' scripts/deps.sh | grep -vE '^\s*#|PACKAGES=\(|^\)' | tr -d '\t ')
deps_pkgs+=(nodejs npm ca-certificates)
notin=()
for p in "${build_pkgs[@]}"; do
	printf '%s\n' "${deps_pkgs[@]}" | grep -qx "$p" || notin+=("$p")
done
if [[ ${#build_pkgs[@]} -gt 0 && ${#notin[@]} -eq 0 ]]; then
	pass "build stage: ${#build_pkgs[@]} packages, all from scripts/deps.sh"
else
	fail "build stage packages not in scripts/deps.sh: ${notin[*]:-(none parsed)}"
fi
if command -v apt-cache >/dev/null 2>&1 && compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
	missing=()
	for p in "${build_pkgs[@]}" "${runtime_pkgs[@]}"; do
		apt-cache show "$p" >/dev/null 2>&1 || missing+=("$p")
	done
	if [[ ${#missing[@]} -eq 0 ]]; then
		pass "every build and runtime package exists in this machine's Debian $(cut -d. -f1 /etc/debian_version 2>/dev/null) apt lists"
	else
		fail "unknown to apt-cache: ${missing[*]}"
	fi
else
	skip "no apt lists (apt-get update): package names not checked"
fi
if [[ -x $MIEN ]] && command -v readelf >/dev/null 2>&1 && command -v dpkg >/dev/null 2>&1; then
	unowned=()
	n=0
	while read -r lib; do
		n=$((n + 1))
		pkg=$(dpkg -S "/usr/lib/x86_64-linux-gnu/$lib" "/lib/x86_64-linux-gnu/$lib" "/usr/lib/$(uname -m)-linux-gnu/$lib" 2>/dev/null |
			head -1 | cut -d: -f1)
		[[ -z $pkg ]] && { unowned+=("$lib(no package)"); continue; }
		[[ $pkg == libc6 ]] && continue # in every Debian image
		printf '%s\n' "${runtime_pkgs[@]}" | grep -qx "$pkg" || unowned+=("$lib($pkg)")
	done < <(readelf -d "$MIEN" | sed -n 's/.*NEEDED.*\[\(.*\)\]/\1/p')
	if [[ ${#unowned[@]} -eq 0 ]]; then
		pass "runtime stage: its packages own all $n libraries build/mien needs (readelf NEEDED, dpkg -S)"
	else
		fail "libraries build/mien needs that the runtime stage lacks: ${unowned[*]}"
	fi
else
	skip "build/mien, readelf or dpkg missing: runtime libraries not matched"
fi

# --- the runtime stage's layout, run here -----------------------------------------------------------------
section "image: runtime layout staged in a temporary root (no engine; same files, ENV, user and cwd)"
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
if [[ -x $MIEN && -d models/human && -d models/faceapi && -d models/mien && -f web/dist/index.html ]]; then
	R=$TMP/root
	install -d "$R/usr/local/bin" "$R/usr/share/mien/models" "$R/var/lib/mien"
	install -m 0755 "$MIEN" "$R/usr/local/bin/mien"
	install -m 0755 deploy/healthcheck.sh "$R/usr/local/bin/mien-healthcheck"
	cp -r models/human models/faceapi models/mien "$R/usr/share/mien/models/"
	cp -r web/dist "$R/usr/share/mien/web"
	chmod -R a+rX,go-w "$R/usr"
	touch "$TMP/staged"
	# As the image: a non-root user that owns only the state directory (uid 10001 as in the Dockerfile).
	RUNAS=()
	if [[ $(id -u) -eq 0 ]] && command -v setpriv >/dev/null 2>&1; then
		chmod 0755 "$TMP" "$R" "$R/var" "$R/var/lib"
		chown -R 10001:10001 "$R/var/lib/mien"
		RUNAS=(setpriv --reuid=10001 --regid=10001 --clear-groups --no-new-privs)
	else
		echo "  note  not root (or no setpriv): runs as $(id -un), not as uid 10001"
	fi
	for role in all worker; do
		port=$(free_port)
		log=$TMP/serve-$role.log
		(cd "$R/var/lib/mien" && exec env -i PATH=/usr/bin:/bin HOME=/nonexistent \
			MIEN_LISTEN="0.0.0.0:$port" MIEN_DB="sqlite:$R/var/lib/mien/mien.db" \
			MIEN_MODELS="$R/usr/share/mien/models" MIEN_WEB="$R/usr/share/mien/web" MIEN_LOG_LEVEL=info \
			MIEN_ROLE=$role "${RUNAS[@]}" "$R/usr/local/bin/mien" serve) >"$log" 2>&1 &
		pid=$!
		PIDS+=("$pid")
		ok=0
		for _ in $(seq 1 100); do
			if MIEN_LISTEN="0.0.0.0:$port" "$R/usr/local/bin/mien-healthcheck" /healthz 2>/dev/null; then
				ok=1
				break
			fi
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
		if [[ $ok == 1 ]] && MIEN_LISTEN="0.0.0.0:$port" "$R/usr/local/bin/mien-healthcheck" /readyz; then
			pass "role $role: mien serve from the staged root; mien-healthcheck /healthz and /readyz pass"
		else
			fail "role $role: not healthy: $(tail -3 "$log")"
		fi
		if [[ $role == all ]]; then
			if curl -fsS "http://127.0.0.1:$port/" | grep -qi '<html'; then
				pass "role all: the dashboard is served from MIEN_WEB"
			else
				fail "role all: no dashboard at /"
			fi
			grep -q "created the first user 'admin'" "$log" &&
				pass "first admin's password printed on stdout (container logs)" || fail "no first-admin line in the log"
		fi
		metrics=$(curl -fsS "http://127.0.0.1:$port/metrics" || true)
		missing=()
		for m in mien_http_requests_total mien_http_request_duration_seconds_bucket mien_analyze_duration_seconds_bucket mien_bus_ready; do
			grep -q "^$m" <<<"$metrics" || missing+=("$m")
		done
		[[ ${#missing[@]} -eq 0 ]] && pass "role $role: /metrics exports the dashboard's series" ||
			fail "role $role: /metrics lacks ${missing[*]}"
		kill -TERM "$pid" 2>/dev/null
		if wait "$pid"; then pass "role $role: SIGTERM (docker stop) ends it with status 0"; else fail "role $role: exit status $? on SIGTERM"; fi
		PIDS=()
	done
	# Nothing was written outside the state directory.
	if [[ -z $(find "$R/usr" -newer "$TMP/staged" -type f 2>/dev/null) ]]; then
		pass "nothing written outside /var/lib/mien (the read-only root of the compose/k8s files)"
	else
		fail "files written under /usr: $(find "$R/usr" -newer "$TMP/staged" -type f | head -3)"
	fi
	if MIEN_LISTEN="0.0.0.0:$(free_port)" "$R/usr/local/bin/mien-healthcheck" 2>/dev/null; then
		fail "mien-healthcheck passes with nothing listening"
	else
		pass "mien-healthcheck fails with nothing listening"
	fi
else
	skip "needs build/mien, models/ (make models) and web/dist (make web)"
fi

# --- optional: the build stage's commands in a copy of the build context ---------------------------------------
section "build: the Dockerfile's build-stage make (DEPLOY_CHECK_BUILD=1)"
if [[ ${DEPLOY_CHECK_BUILD:-0} == 1 ]]; then
	ctx=$TMP/context
	mkdir -p "$ctx"
	# The context: what git would take, minus deploy/Dockerfile.dockerignore's patterns.
	git ls-files -co --exclude-standard | node -e '
const fs = require("fs");
const pats = fs.readFileSync("deploy/Dockerfile.dockerignore", "utf8").split("\n").map(s => s.trim()).filter(s => s && !s.startsWith("#"));
const re = p => new RegExp("^" + p.replace(/[.+^$()|{}\[\]]/g, "\\$&").replace(/\*\*\//g, "(.*/)?").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]") + "(/.*)?$");
const rules = pats.map(p => p.startsWith("!") ? [false, re(p.slice(1))] : [true, re(p)]);
for (const f of fs.readFileSync(0, "utf8").split("\n").filter(Boolean)) {
  let ex = false;
  for (const [e, r] of rules) if (r.test(f)) ex = e;
  if (!ex && fs.existsSync(f)) console.log(f);
}' | tar -cf - -T - | tar -xf - -C "$ctx"
	if (cd "$ctx" && make -j"$(nproc)" models build/mien web >"$TMP/build.log" 2>&1 && ./build/mien --version); then
		pass "make models build/mien web in the filtered context ($(du -sh "$ctx" | cut -f1))"
	else
		fail "build-stage make: $(tail -5 "$TMP/build.log")"
	fi
else
	skip "set DEPLOY_CHECK_BUILD=1 to run it (needs npm registry access, several minutes)"
fi

section "not verified here"
echo "  - no image is built or run (no container engine): base images, apt installs inside debian:12-slim,"
echo "    HEALTHCHECK timing and VOLUME behaviour are checked statically or by the staged layout above only"
echo "  - compose is rendered, not started: postgres/redis images and their healthchecks are not exercised"
echo "  - Kubernetes objects are not validated against an API server's schema (no cluster)"
echo "  - the systemd unit is analysed, not started (no systemd as PID 1 here)"

echo
if [[ $fails -gt 0 ]]; then
	echo "deploy check: $fails FAILED, $skips skipped"
	exit 1
fi
if [[ $skips -gt 0 && ${DEPLOY_CHECK_STRICT:-0} == 1 ]]; then
	echo "deploy check: $skips skipped (DEPLOY_CHECK_STRICT=1)"
	exit 1
fi
echo "deploy check: all passed, $skips skipped"
