# What the libFuzzer scripts (tests/fuzz/run*.sh) share; sourced, from the
# top of the tree.

# need_clang: clang from Debian if missing (libFuzzer comes with it).
need_clang() {
    command -v clang >/dev/null 2>&1 && return 0
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO=sudo
    echo "fuzz: installing clang (libFuzzer comes with it)" >&2
    $SUDO apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q clang >/dev/null
}

# fuzz_build OUTPUT SOURCE... [FLAGS...]: a fuzzer with ASan and UBSan.
fuzz_build() {
    out=$1
    shift
    clang -g -O1 -std=c11 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -Iinclude "$@" -o "$out"
}
