#!/usr/bin/env bash
# Seed 001's curl flow against a running FairLens: log in as admin, evaluate the demo model, read the fairness
# trend, run the drifted monitor_fairness scenario, and read the audit history as an auditor (and check that
# the admin may not). Every step checks the HTTP status and the answer's shape; the first failure stops the
# script with a non-zero exit and says which step failed and what the server answered.
#
#   make run                                   # in another terminal (or any deployed FairLens)
#   bash tests/test_endpoints.sh
#
# Settings (environment): BASE_URL (default http://127.0.0.1:$PORT, PORT default 5050), ADMIN_USER /
# ADMIN_PASSWORD and AUDITOR_USER / AUDITOR_PASSWORD (the demo users of `manage.py seed_demo`, default
# passwords change-me), MODEL_NAME / MODEL_VERSION (default loan_model / 1), CURL_TIMEOUT (seconds, default 30),
# PYTHON (default python3). Needs bash, curl and Python 3 (to read JSON; jq is not required).
set -euo pipefail

BASE_URL="${BASE_URL:-http://127.0.0.1:${PORT:-5050}}"
BASE_URL="${BASE_URL%/}"
ADMIN_USER="${ADMIN_USER:-admin}"
ADMIN_PASSWORD="${ADMIN_PASSWORD:-change-me}"
AUDITOR_USER="${AUDITOR_USER:-auditor}"
AUDITOR_PASSWORD="${AUDITOR_PASSWORD:-change-me}"
MODEL_NAME="${MODEL_NAME:-loan_model}"
MODEL_VERSION="${MODEL_VERSION:-1}"
CURL_TIMEOUT="${CURL_TIMEOUT:-30}"
PYTHON="${PYTHON:-python3}"

STATUS=""
BODY=""

fail() {
    echo "FAIL: $1" >&2
    if [ -n "$BODY" ]; then
        echo "  HTTP $STATUS: ${BODY:0:2000}" >&2
    fi
    exit 1
}

# call METHOD PATH [TOKEN] [JSON_BODY]: sets STATUS and BODY.
call() {
    local method="$1" path="$2" token="${3:-}" data="${4:-}"
    local args=(-sS -X "$method" --max-time "$CURL_TIMEOUT" -H "Accept: application/json" -w $'\n%{http_code}')
    if [ -n "$token" ]; then
        args+=(-H "Authorization: Bearer $token")
    fi
    if [ -n "$data" ]; then
        args+=(-H "Content-Type: application/json" --data "$data")
    fi
    local output
    if ! output="$(curl "${args[@]}" "$BASE_URL$path")"; then
        BODY=""
        fail "$method $path: no answer from $BASE_URL"
    fi
    STATUS="${output##*$'\n'}"
    BODY="${output%$'\n'*}"
}

# expect STEP CODE: the last call answered CODE.
expect() {
    [ "$STATUS" = "$2" ] || fail "$1: expected HTTP $2"
}

# inspect STEP ASSERTION [EXPRESSION...]: the last body (parsed as `body`) makes the Python expression ASSERTION
# true, else the step fails; the value of each EXPRESSION goes into the array VALUES, in order.
inspect() {
    local step="$1" assertion="$2" output
    shift 2
    output="$(BODY_JSON="$BODY" "$PYTHON" -c '
import json, os, sys
try:
    body = json.loads(os.environ["BODY_JSON"])
    ok = bool(eval(sys.argv[1], {"body": body}))
    values = [eval(expression, {"body": body}) for expression in sys.argv[2:]] if ok else []
except Exception as exc:
    sys.exit(f"{type(exc).__name__}: {exc}")
if not ok:
    sys.exit("false")
for value in values:
    print(value if isinstance(value, str) else json.dumps(value))
' "$assertion" "$@" 2>&1)" || fail "$step: expected $assertion ($output)"
    VALUES=()
    if [ -n "$output" ]; then
        mapfile -t VALUES <<<"$output"
    fi
}

login() {
    local step="$1" username="$2" password="$3" payload
    payload="$(USERNAME="$username" PASSWORD="$password" "$PYTHON" -c '
import json, os
print(json.dumps({"username": os.environ["USERNAME"], "password": os.environ["PASSWORD"]}))
')"
    call POST /api/login "" "$payload"
    expect "$step" 200
    inspect "$step" 'body["status"] == "success" and body["data"]["access_token"]' 'body["data"]["access_token"]'
    echo "${VALUES[0]}"
}

echo "FairLens endpoint flow against $BASE_URL"

call GET /api/health
expect "health" 200
inspect "health" 'body["status"] == "success"'
echo "ok: health"

ADMIN_TOKEN="$(login "login admin" "$ADMIN_USER" "$ADMIN_PASSWORD")" || exit 1
echo "ok: login admin ($ADMIN_USER)"

call POST /api/evaluate_model "$ADMIN_TOKEN" \
    "{\"model_name\": \"$MODEL_NAME\", \"version\": \"$MODEL_VERSION\", \"n_samples\": 500, \"drift_level\": 0.8, \"mode\": \"demo\", \"seed\": 7}"
expect "evaluate_model demo" 200
inspect "evaluate_model demo" \
    'body["data"]["simulated"] is True and len(body["data"]["predictions"]) == 500 and "gender" in body["data"]["metrics"]' \
    'body["data"]["record_id"]' 'body["data"]["alert"]'
echo "ok: evaluate_model demo (record_id ${VALUES[0]}, alert ${VALUES[1]})"

call GET "/api/fairness_trend?window=10&model=$MODEL_NAME&version=$MODEL_VERSION" "$ADMIN_TOKEN"
expect "fairness_trend" 200
inspect "fairness_trend" 'isinstance(body["data"]["dirs"], list) and "moving_average" in body["data"]' \
    'len(body["data"]["dirs"])' 'body["data"]["moving_average"]'
echo "ok: fairness_trend (${VALUES[0]} checks, moving average ${VALUES[1]})"

call GET "/api/monitor_fairness?scenario=drifted&n_samples=1000" "$ADMIN_TOKEN"
expect "monitor_fairness drifted" 200
inspect "monitor_fairness drifted" \
    'body["data"]["drifted_scenario"]["dir_alert"] is True and body["data"]["drifted_scenario"]["encrypted_alert"]' \
    '"%.2f" % body["data"]["drifted_scenario"]["dir"]' 'body["data"]["record_id"]'
echo "ok: monitor_fairness drifted (DIR ${VALUES[0]}, record_id ${VALUES[1]})"

AUDITOR_TOKEN="$(login "login auditor" "$AUDITOR_USER" "$AUDITOR_PASSWORD")" || exit 1
echo "ok: login auditor ($AUDITOR_USER)"

call GET "/api/audit_history?limit=5" "$AUDITOR_TOKEN"
expect "audit_history (auditor)" 200
inspect "audit_history (auditor)" 'body["status"] == "success" and 1 <= len(body["data"]) <= 5' \
    'len(body["data"])' 'body["data"][0]["seq"]'
echo "ok: audit_history (auditor, ${VALUES[0]} entries, latest seq ${VALUES[1]})"

call GET "/api/audit_history?limit=5" "$ADMIN_TOKEN"
expect "audit_history refused to admin" 403
echo "ok: audit_history refused to admin"

echo "all steps passed"
