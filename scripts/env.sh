# Sourced by the project's scripts: where set-up caches tools, and the PATH that finds them.
ELEX_CACHE="${ELEX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/elex}"
mkdir -p "$ELEX_CACHE"
if [[ -f Cargo.lock ]]; then
  _wb=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
  [[ -n "$_wb" ]] && PATH="$ELEX_CACHE/wasm-bindgen-cli-$_wb/bin:$PATH"
fi
export ELEX_CACHE PATH
