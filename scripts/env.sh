# Sourced by the project's scripts: where set-up caches tools, and the PATH that finds them.
ELEX_CACHE="${ELEX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/elex}"
mkdir -p "$ELEX_CACHE"
# The wasm-bindgen version Cargo.lock pins (empty without a lockfile).
wasm_bindgen_version() {
  [[ -f Cargo.lock ]] && awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock
}
_wb=$(wasm_bindgen_version || true)
[[ -n "$_wb" ]] && PATH="$ELEX_CACHE/wasm-bindgen-cli-$_wb/bin:$PATH"
export ELEX_CACHE PATH
