#!/usr/bin/env bash
# Installs everything elex needs on a fresh Debian machine of this project's kind, and skips what
# is already there (idempotent, safe to run before every test run):
#   - rustup targets: wasm32-unknown-unknown, wasm32-wasip1, aarch64-unknown-linux-gnu,
#     aarch64-apple-darwin; rustfmt and clippy;
#   - apt: the aarch64 cross linker and qemu-user (NEON tests), brotli, mesa-vulkan-drivers and
#     libvulkan1 (lavapipe, the software Vulkan elex-gpu's tests run on), chromium (the browser
#     tests: real IndexedDB in headless Chromium, driven by playwright-core) and chromium-driver
#     (wasm-bindgen-test's own ChromeDriver mode, crates/elex-wasm/webdriver.json, by hand);
#   - wasm-bindgen-cli at exactly the version Cargo.lock pins, built once into
#     $ELEX_CACHE/wasm-bindgen-cli-<version> (cargo install without --locked: the registry
#     mirror lacks a crate its lockfile pins);
#   - the npm dependencies of www/ (when www/package.json exists).
# Prints the PATH addition for the installed tools; scripts/env.sh sets it for other scripts.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

log() { printf '[setup] %s\n' "$*"; }
as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

# --- Rust targets and components -------------------------------------------------------------
want_targets=(wasm32-unknown-unknown wasm32-wasip1 aarch64-unknown-linux-gnu aarch64-apple-darwin)
have_targets=$(rustup target list --installed)
for t in "${want_targets[@]}"; do
  grep -qx "$t" <<<"$have_targets" || { log "rustup target add $t"; rustup target add "$t"; }
done
for c in rustfmt clippy; do
  rustup component list --installed | grep -q "^$c" || rustup component add "$c"
done

# --- Debian packages -------------------------------------------------------------------------
apt_pkgs=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user brotli mesa-vulkan-drivers libvulkan1
  chromium chromium-driver)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  log "apt-get install ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" >/dev/null
fi

# --- wasm-bindgen-cli pinned to Cargo.lock ---------------------------------------------------
[[ -f Cargo.lock ]] || cargo generate-lockfile -q
wb_version=$(wasm_bindgen_version || true)
if [[ -z "$wb_version" ]]; then
  echo "[setup] Cargo.lock has no wasm-bindgen entry" >&2
  exit 1
fi
wb_root="$ELEX_CACHE/wasm-bindgen-cli-$wb_version"
if [[ ! -x "$wb_root/bin/wasm-bindgen-test-runner" ]]; then
  log "cargo install wasm-bindgen-cli $wb_version into $wb_root (about 5 minutes, once)"
  rm -rf "$wb_root.partial"
  cargo install -q wasm-bindgen-cli --version "$wb_version" --root "$wb_root.partial"
  mv "$wb_root.partial" "$wb_root"
fi
installed=$("$wb_root/bin/wasm-bindgen" --version | awk '{print $2}')
[[ "$installed" == "$wb_version" ]] || { echo "[setup] wasm-bindgen $installed != $wb_version" >&2; exit 1; }

# --- npm dependencies of www/ ----------------------------------------------------------------
if [[ -f www/package.json ]]; then
  if [[ ! -d www/node_modules ]] || [[ www/package-lock.json -nt www/node_modules/.package-lock.json ]]; then
    log "npm ci in www/"
    # npm ci refuses this lock on some mirrors (npm leaves other platforms' optional rollup
    # binaries out of it); npm install then installs the same locked versions.
    # ONNXRUNTIME_NODE_INSTALL=skip: @huggingface/transformers (the demo's embedding model)
    # pulls in onnxruntime-node, whose install script would download from outside the
    # registry; its CPU binaries are in the npm package already.
    (cd www && export ONNXRUNTIME_NODE_INSTALL=skip &&
      { npm ci --no-audit --no-fund --loglevel=error 2>/dev/null ||
        npm install --no-audit --no-fund --loglevel=error; })
  fi
fi

log "ready: rust $(rustc --version | awk '{print $2}'), wasm-bindgen $wb_version, node $(node --version)"
