#!/usr/bin/env bash
# e2e.sh — `make e2e`: the tests that need more than Go and PostgreSQL:
# deploy/nginx/balsamoa.conf with the real nginx from Debian in front of
# imagenes and a stand-in for Balsamoa (app/proxy_e2e_test.go), and the
# admin page in a real headless Chromium driven by chromedp
# (app/admin_e2e_test.go; screenshots in bench/out/e2e/), and a stand-in
# of Balsamoa's panel behind that nginx config on a port other than 80
# uploading and deleting with the cookie in Chromium
# (app/crosssite_e2e_test.go). Installs nginx
# (nginx-light) and chromium with apt-get when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
	echo "e2e: installing nginx from Debian (apt-get install nginx-light)" >&2
	if [ "$(id -u)" -ne 0 ]; then
		echo "e2e: nginx is missing and this is not root: install it (apt-get install nginx-light), then rerun" >&2
		exit 1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx-light >/dev/null \
		|| { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx-light >/dev/null; }
fi
if ! command -v chromium >/dev/null; then
	echo "e2e: installing chromium from Debian (apt-get install chromium)" >&2
	if [ "$(id -u)" -ne 0 ]; then
		echo "e2e: chromium is missing and this is not root: install it (apt-get install chromium), then rerun" >&2
		exit 1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >/dev/null \
		|| { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >/dev/null; }
fi
export IMAGENES_TEST_DATABASE_URL=$(scripts/localpg.sh start test --fast)
mkdir -p bench/out/e2e
go test -count=1 -timeout 10m -tags e2e -run 'TestBesideBalsamoa|TestAdminPageInChromium|TestPanelBehindNginxOnAPort' ./app/
